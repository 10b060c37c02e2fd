/// <reference lib="dom" />
// The dashboard's single page (preact + htm: about 5 KB gzipped together, no build-time JSX). It keeps the token in
// sessionStorage (taken from the URL's #token=… fragment once, then the fragment is cleared) and sends it in the
// Authorization header of every /api request; live data arrive as server-sent events over one fetch stream (the
// browser's EventSource cannot send that header), parsed with eventsource-parser. Charts are plain SVG.
import { createParser } from 'eventsource-parser';
import htm from 'htm';
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { CvmState } from '../../workflows/rollout-types';
import type { AppView, PowerView, Snapshot, WorkflowRef } from '../snapshot';
import { weekSvg } from './week-svg';

const html = htm.bind(h);
type Node = ReturnType<typeof html>;

const TOKEN_KEY = 'cvmflow.token';
const WHO_KEY = 'cvmflow.operator';

function takeToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]!));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

function fmt(ms: number, zone: string = viewerZone): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    day: '2-digit',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(ms);
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (Math.abs(s) < 90) return `${s} s`;
  if (Math.abs(s) < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const short = (hash?: string) => (hash ? hash.replace(/^0x/, '').slice(0, 12) : '–');

function temporalLink(snap: Snapshot, w: { workflowId: string; runId?: string }): Node {
  if (!snap.temporalUiUrl) return html`<span class="muted">${w.workflowId}</span>`;
  const url = `${snap.temporalUiUrl}/namespaces/${encodeURIComponent(snap.namespace)}/workflows/${encodeURIComponent(w.workflowId)}${w.runId ? `/${w.runId}/history` : ''}`;
  return html`<a class="temporal-link" href=${url} target="_blank" rel="noopener">${w.workflowId} ↗</a>`;
}

function badge(state: string): Node {
  return html`<span class=${`badge s-${state.toLowerCase().replace(/[^a-z-]/g, '')}`}>${state}</span>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Actions: reason asked for every time, the validator's refusal shown as it was worded.

interface ActionProps {
  token: string;
  kind: 'bluegreen' | 'rollout' | 'power';
  target: string;
  action: string;
  label: string;
  withUntil?: boolean;
}

function ActionButton(p: ActionProps): Node {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState('');
  const [busy, setBusy] = useState(false);
  const [answer, setAnswer] = useState<{ ok: boolean; text: string } | null>(null);
  const id = `${p.kind}-${p.target}-${p.action}`.replace(/[^a-zA-Z0-9-]/g, '-');
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    setAnswer(null);
    try {
      const res = await fetch('/api/action', {
        method: 'POST',
        headers: { authorization: `Bearer ${p.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          kind: p.kind,
          target: p.target,
          action: p.action,
          reason,
          by: localStorage.getItem(WHO_KEY) || 'operator',
          ...(p.withUntil ? { until } : {}),
        }),
      });
      const body = (await res.json()) as { ok?: boolean; refused?: string; error?: string };
      if (res.ok) {
        setAnswer({ ok: true, text: `${p.label}: done` });
        setOpen(false);
        setReason('');
      } else setAnswer({ ok: false, text: body.refused ?? body.error ?? `HTTP ${res.status}` });
    } catch (err) {
      setAnswer({ ok: false, text: (err as Error).message });
    } finally {
      setBusy(false);
    }
  }
  return html`<span class="action">
    <button type="button" id=${`btn-${id}`} onClick=${() => setOpen(!open)}>${p.label}</button>
    ${
      open &&
      html`<form class="action-form" id=${`form-${id}`} onSubmit=${submit}>
        ${
          p.withUntil &&
          html`<label>until <input name="until" required placeholder="2026-03-02T18:00 (schedule's zone) or ISO with offset"
            value=${until} onInput=${(e: Event) => setUntil((e.target as HTMLInputElement).value)} /></label>`
        }
        <label>reason <input name="reason" required placeholder="why (recorded with your name)" value=${reason}
          onInput=${(e: Event) => setReason((e.target as HTMLInputElement).value)} /></label>
        <button type="submit" disabled=${busy}>confirm ${p.label}</button>
      </form>`
    }
    ${answer && html`<div class=${answer.ok ? 'done' : 'refusal'} role="status">${answer.text}</div>`}
  </span>`;
}

// ---------------------------------------------------------------------------------------------------------------
// Pages

function AppsPage({ snap }: { snap: Snapshot }): Node {
  if (!snap.apps.length) return html`<p class="muted">No apps yet: deploy one (cvmflow deploy -f spec.yaml).</p>`;
  const refs = new Map<string, WorkflowRef>(snap.workflows.map((w) => [w.workflowId, w]));
  return html`<section id="apps">${snap.apps.map((app: AppView) => {
    const deploy = snap.deploys.find((d) => d.app === app.name);
    return html`<div class="card app" data-app=${app.name}>
      <h3>${app.name} <span class="muted">${app.appId ?? ''}</span></h3>
      ${
        app.cvms.length
          ? html`<table class="cvms"><thead><tr><th>CVM</th><th>status</th><th>node</th><th>compose hash</th><th>version</th><th>attestation</th></tr></thead>
          <tbody>${app.cvms.map(
            (
              c,
            ) => html`<tr><td title=${c.cvmId}>${c.cvmId.slice(0, 14)}</td><td>${badge(c.status)}</td><td>${c.node ?? '–'}</td>
              <td class="mono">${short(c.composeHash)}</td><td>${c.version ?? '–'}</td><td>${c.attestation ? html`<span class=${`badge attestation s-${c.attestation.split(/[\s:(]/)[0]!.toLowerCase()}`}>${c.attestation}</span>` : html`<span class="muted">–</span>`}</td></tr>`,
          )}</tbody></table>`
          : html`<p class="muted">no live CVM</p>`
      }
      ${deploy?.progress && html`<${DeployTimeline} progress=${deploy.progress} />`}
      <div class="links">${app.workflows.map((id) => html`${temporalLink(snap, refs.get(id) ?? { workflowId: id })} `)}</div>
    </div>`;
  })}</section>`;
}

const DEPLOY_PHASES = ['provision', 'register', 'approve', 'commit', 'watch', 'replicate', 'done'];

function DeployTimeline({ progress }: { progress: NonNullable<Snapshot['deploys'][number]['progress']> }): Node {
  const timings = progress.timingsMs as Record<string, number | undefined>;
  const phases = [...new Set([...DEPLOY_PHASES.filter((p) => timings[p] !== undefined), progress.phase])];
  return html`<div class="timeline">deploy (${progress.mode ?? '…'}): ${phases.map(
    (p) =>
      html`<span class=${`step ${p === progress.phase ? 'current' : 'past'}`}>${p}${timings[p] !== undefined ? ` ${ago(timings[p]!)}` : ''}</span>`,
  )}${progress.lastError && html`<div class="refusal">${progress.lastError}</div>`}</div>`;
}

const WAVE_GROUPS: { name: string; colour: string; states: CvmState[] }[] = [
  { name: 'healthy', colour: '#2e9d5b', states: ['healthy', 'already'] },
  { name: 'updated', colour: '#3a7bd5', states: ['updating'] },
  { name: 'reverted', colour: '#e08a1e', states: ['reverting', 'reverted'] },
  { name: 'failed', colour: '#c0392b', states: ['failed', 'revert-failed', 'diverged'] },
  { name: 'pending', colour: '#c9ced6', states: ['pending', 'waiting-lock', 'skipped'] },
];

function WaveChart({ view }: { view: NonNullable<Snapshot['rollouts'][number]['rollout']> }): Node {
  const waves = Math.max(view.waves.total, ...view.cvms.map((c) => c.wave + 1), 1);
  const perWave = Array.from({ length: waves }, (_, i) => view.cvms.filter((c) => c.wave === i));
  const most = Math.max(1, ...perWave.map((w) => w.length));
  const barW = Math.min(60, 640 / waves - 10);
  const H = 120;
  const W = Math.max(waves * (barW + 10) + 10, WAVE_GROUPS.length * 75 + 20);
  return html`<svg class="waves" viewBox=${`0 0 ${W} ${H + 36}`} width=${W} height=${H + 36} role="img" aria-label="waves">
    ${perWave.map((cvms, i) => {
      let y = H;
      const x = 10 + i * (barW + 10);
      return html`<g class="wave" data-wave=${i}>${WAVE_GROUPS.map((g) => {
        const n = cvms.filter((c) => g.states.includes(c.state)).length;
        if (!n) return null;
        const hgt = (n / most) * (H - 10);
        y -= hgt;
        return html`<rect class=${`seg ${g.name}`} data-count=${n} x=${x} y=${y} width=${barW} height=${hgt} fill=${g.colour}><title>wave ${i + 1}: ${n} ${g.name}</title></rect>`;
      })}<text x=${x + barW / 2} y=${H + 14} text-anchor="middle" font-size="11">${i + 1}${view.currentWave?.index === i ? ' ▲' : ''}</text></g>`;
    })}
    <g font-size="10">${WAVE_GROUPS.map(
      (g, i) =>
        html`<rect x=${10 + i * 75} y=${H + 22} width="9" height="9" fill=${g.colour}/><text x=${22 + i * 75} y=${H + 30}>${g.name}</text>`,
    )}</g>
  </svg>`;
}

function RolloutsPage({ snap, token }: { snap: Snapshot; token: string }): Node {
  if (!snap.rollouts.length) return html`<p class="muted">No rollout in the last hour.</p>`;
  return html`<section id="rollouts">${snap.rollouts.map((r) => {
    const v = r.rollout;
    return html`<div class="card rollout" data-rollout=${r.workflowId}>
      <h3>${v?.name ?? r.workflowId} ${badge(v?.phase ?? r.phase ?? '?')} ${badge(r.status)}</h3>
      <div>${temporalLink(snap, r)}</div>
      ${
        v &&
        html`<div class="facts">
          <span>waves <b class="wave-progress">${v.waves.next}/${v.waves.total}</b></span>
          <span>failure budget <meter min="0" max=${Math.max(1, v.failures.budget)} value=${v.failures.count}></meter>
            <b class="budget">${v.failures.count}/${v.failures.budget}</b></span>
          <span>window ${v.window ? html`${badge(v.window.open ? 'open' : 'closed')} ${v.window.cause}${v.window.nextChange ? ` · next: ${v.window.nextChange.state} at ${fmt(v.window.nextChange.atMs)}` : ''}` : html`<span class="muted">none (always open)</span>`}</span>
          ${v.waiting && html`<span class="muted">waiting: ${v.waiting}</span>`}
          ${v.paused && html`<span class="paused">paused by ${v.paused.by}: ${v.paused.reason}</span>`}
        </div>
        <${WaveChart} view=${v} />
        ${
          r.status === 'RUNNING' &&
          html`<div class="actions">
            ${['pause', 'resume', 'abort', 'skip-window'].map((a) => html`<${ActionButton} token=${token} kind="rollout" target=${r.workflowId} action=${a} label=${a} />`)}
          </div>`
        }
        <details><summary>audit (${v.records.length})</summary><ul>${v.records.slice(-20).map((x) => html`<li>${fmt(x.atMs)} ${x.text}</li>`)}</ul></details>`
      }
    </div>`;
  })}</section>`;
}

function BlueGreensPage({ snap, token }: { snap: Snapshot; token: string }): Node {
  if (!snap.blueGreens.length) return html`<p class="muted">No blue-green deployment in the last hour.</p>`;
  return html`<section id="bluegreens">${snap.blueGreens.map((b) => {
    const s = b.blueGreen?.status;
    const live = s ? (s.active === 'green' ? s.green?.name : s.active === 'blue' ? s.blue?.name : 'none') : undefined;
    const p = s?.promotion;
    return html`<div class="card bluegreen" data-app=${b.app}>
      <h3>${b.app} ${badge(s?.phase ?? b.phase ?? '?')} ${badge(b.status)}</h3>
      <div>${temporalLink(snap, b)}</div>
      ${
        s &&
        html`<table class="route"><tbody>
          <tr><th>live route</th><td class="live-route" data-slot=${s.active}>${s.active} · ${live ?? '–'}</td></tr>
          <tr><th>preview route</th><td class="preview-route">${s.preview ? `green · ${s.green?.name ?? '–'}` : 'off'}</td></tr>
          <tr><th>blue</th><td>${s.blue?.name ?? '–'} <span class="mono">${short(s.blue?.composeHash)}</span></td></tr>
          <tr><th>green</th><td>${s.green?.name ?? '–'} <span class="mono">${short(s.green?.composeHash)}</span></td></tr>
          <tr><th>health</th><td>${badge(s.greenHealthy ? 'healthy' : 'unhealthy')} ${s.health ?? ''}</td></tr>
          <tr><th>analysis</th><td>${s.history
            .filter((e) => e.kind === 'analysis')
            .slice(-2)
            .map((e) => html`<div>${e.detail}</div>`)}</td></tr>
          <tr><th>promotion</th><td>${p?.mode}${p?.autoAtMs ? ` · auto-promote in ${ago(p.autoAtMs - snap.atMs)}` : ''}${p?.expiresAtMs ? ` · preview TTL ends in ${ago(p.expiresAtMs - snap.atMs)}` : ''}${p?.promotedBy ? ` · promoted by ${p.promotedBy}` : ''}</td></tr>
        </tbody></table>
        ${s.lastError && html`<div class="refusal">${s.lastError}</div>`}
        ${
          b.status === 'RUNNING' &&
          html`<div class="actions">${['promote', 'abort', 'rollback'].map((a) => html`<${ActionButton} token=${token} kind="bluegreen" target=${b.app} action=${a} label=${a} />`)}</div>`
        }
        <details><summary>history (${s.history.length})</summary><ul>${s.history.slice(-20).map((e) => html`<li>${fmt(e.atMs)} ${e.kind}: ${e.detail}${e.by ? ` — ${e.by}` : ''}${e.reason ? ` (${e.reason})` : ''}</li>`)}</ul></details>`
      }
    </div>`;
  })}</section>`;
}

function PowerCard({ snap, view, token }: { snap: Snapshot; view: PowerView; token: string }): Node {
  const s = view.power;
  const apps = [...new Set(s.cvms.map((c) => c.app))];
  const svg = view.week
    ? weekSvg({
        layout: view.week,
        rows: apps.length ? apps : [s.name],
        viewerZone,
        nowMs: s.now.atMs,
        overrides: s.overrides
          .filter((o) => o.until)
          .map((o) => ({
            label: `${o.kind}: ${o.reason} (${o.by})`,
            state: o.kind === 'keepStopped' ? 'stopped' : 'running',
            startMs: o.createdAtMs,
            endMs: o.until!.atMs,
          })),
      })
    : '';
  return html`<div class="card power" data-schedule=${s.name}>
    <h3>${s.name} ${badge(s.desired.state)} <span class="muted">${s.mode}, ${s.timezone} (you: ${viewerZone})</span></h3>
    <div>${temporalLink(snap, view)}</div>
    ${svg ? html`<div class="week" dangerouslySetInnerHTML=${{ __html: svg }}></div>` : html`<p class="muted">calendar unavailable</p>`}
    <div class="facts">
      ${view.hoursOff && html`<span class="hours-off">CVM-hours off this week: <b>${view.hoursOff.cvmHours.toFixed(1)}</b> (${view.hoursOff.perCvm.toFixed(1)} h × ${view.hoursOff.cvms} CVMs)${view.hoursOff.saved !== undefined ? html`, saving <b class="saved">${view.hoursOff.saved.toFixed(2)}</b> at the API's hourly rates` : ''}</span>`}
      <span>now: ${s.calendarDesired.state} (${s.calendarDesired.source}) → desired ${s.desired.state}: ${s.desired.cause}</span>
    </div>
    <h4>next transitions</h4>
    <ul class="transitions">${s.nextTransitions.map((t) => html`<li>${t.local} · ${fmt(t.atMs)} → <b>${t.state}</b> ${t.source}${t.suppressedBy ? ` (held by ${t.suppressedBy})` : ''}</li>`)}</ul>
    <h4>overrides</h4>
    <ul class="overrides">${s.overrides.length ? s.overrides.map((o) => html`<li>${o.kind}${o.until ? ` until ${o.until.local}` : ''} — ${o.reason} (by ${o.by})</li>`) : html`<li class="muted">none</li>`}</ul>
    <table class="cvms"><thead><tr><th>CVM</th><th>app</th><th>actual</th><th>desired</th></tr></thead><tbody>
      ${s.cvms.map((c) => html`<tr><td>${c.name}</td><td>${c.app}</td><td>${badge(c.actual)}</td><td>${c.desired}${c.drift ? ' (drift)' : ''}</td></tr>`)}
    </tbody></table>
    <div class="actions">
      <${ActionButton} token=${token} kind="power" target=${s.name} action="keep-running" label="keep running" withUntil=${true} />
      <${ActionButton} token=${token} kind="power" target=${s.name} action="keep-stopped" label="keep stopped" withUntil=${true} />
    </div>
  </div>`;
}

function PowerPage({ snap, token }: { snap: Snapshot; token: string }): Node {
  if (!snap.power.length) return html`<p class="muted">No power schedule running.</p>`;
  return html`<section id="power">${snap.power.map((v) => html`<${PowerCard} snap=${snap} view=${v} token=${token} />`)}</section>`;
}

// ---------------------------------------------------------------------------------------------------------------
// The shell: token, live stream, navigation.

const PAGES = {
  apps: 'Apps & CVMs',
  rollouts: 'Rollouts',
  bluegreens: 'Blue-green',
  power: 'Power schedules',
} as const;
type Page = keyof typeof PAGES;

function pageOf(): Page {
  const name = location.hash.replace(/^#\/?/, '');
  return name in PAGES ? (name as Page) : 'apps';
}

/** Reads the snapshot stream until it ends; reconnects while the page is open. */
function useSnapshots(token: string | null, onUnauthorized: () => void) {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!token) return;
    let stopped = false;
    const controller = new AbortController();
    async function connect() {
      while (!stopped) {
        try {
          const res = await fetch('/api/events', {
            headers: { authorization: `Bearer ${token}` },
            signal: controller.signal,
          });
          if (res.status === 401) {
            onUnauthorized();
            return;
          }
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
          setLive(true);
          const parser = createParser({
            onEvent: (e) => {
              if (e.event === 'snapshot') setSnap(JSON.parse(e.data) as Snapshot);
            },
          });
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        } catch {
          if (stopped) return;
        }
        setLive(false);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
    void connect();
    return () => {
      stopped = true;
      controller.abort();
    };
  }, [token]);
  return { snap, live };
}

function Login({ onToken, refused }: { onToken: (t: string) => void; refused: boolean }): Node {
  const [value, setValue] = useState('');
  return html`<form class="card login" onSubmit=${(e: Event) => {
    e.preventDefault();
    onToken(value.trim());
  }}>
    <h2>cvmflow dashboard</h2>
    ${refused && html`<p class="refusal" id="auth-refused">The token was refused.</p>`}
    <label>token <input type="password" name="token" autocomplete="off" value=${value} onInput=${(e: Event) => setValue((e.target as HTMLInputElement).value)} /></label>
    <button type="submit">open</button>
    <p class="muted">The token <code>cvmflow ui</code> printed (or CVMFLOW_UI_TOKEN). It stays in this tab only.</p>
  </form>`;
}

function App(): Node {
  const [token, setToken] = useState<string | null>(takeToken());
  const [refused, setRefused] = useState(false);
  const [page, setPage] = useState<Page>(pageOf());
  const [who, setWho] = useState(localStorage.getItem(WHO_KEY) ?? 'operator');
  useEffect(() => {
    const onHash = () => {
      // A URL with a (new) token pasted into this tab: take it, like on first load.
      if (/(?:^#|&)token=/.test(location.hash)) {
        setToken(takeToken());
        setRefused(false);
      }
      setPage(pageOf());
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const { snap, live } = useSnapshots(token, () => {
    sessionStorage.removeItem(TOKEN_KEY);
    setRefused(true);
    setToken(null);
  });
  if (!token)
    return html`<${Login} refused=${refused} onToken=${(t: string) => {
      sessionStorage.setItem(TOKEN_KEY, t);
      setRefused(false);
      setToken(t);
    }} />`;
  const counts: Record<Page, number> = snap
    ? {
        apps: snap.apps.length,
        rollouts: snap.rollouts.length,
        bluegreens: snap.blueGreens.length,
        power: snap.power.length,
      }
    : { apps: 0, rollouts: 0, bluegreens: 0, power: 0 };
  return html`<header>
      <b>cvmflow</b>
      <nav>${(Object.keys(PAGES) as Page[]).map((p) => html`<a href=${`#/${p}`} id=${`nav-${p}`} class=${p === page ? 'active' : ''}>${PAGES[p]} <span class="count">${counts[p]}</span></a>`)}</nav>
      <span class=${`live ${live ? 'on' : 'off'}`} id="live">${live ? '● live' : '○ offline'}</span>
      <label class="who">you <input value=${who} onInput=${(e: Event) => {
        const v = (e.target as HTMLInputElement).value;
        setWho(v);
        localStorage.setItem(WHO_KEY, v);
      }} /></label>
    </header>
    <main id=${`page-${page}`}>
      ${!snap && html`<p class="muted">Connecting…</p>`}
      ${snap && snap.problems.length > 0 && html`<div class="problems">${snap.problems.map((p) => html`<div>${p}</div>`)}</div>`}
      ${snap && page === 'apps' && html`<${AppsPage} snap=${snap} />`}
      ${snap && page === 'rollouts' && html`<${RolloutsPage} snap=${snap} token=${token} />`}
      ${snap && page === 'bluegreens' && html`<${BlueGreensPage} snap=${snap} token=${token} />`}
      ${snap && page === 'power' && html`<${PowerPage} snap=${snap} token=${token} />`}
      ${snap && html`<footer class="muted" id="updated">updated ${fmt(snap.atMs)} · namespace ${snap.namespace}</footer>`}
    </main>`;
}

const root = document.getElementById('root')!;
// The static "Loading…" placeholder goes: render() adds to a container, it does not replace what is in it.
root.textContent = '';
render(html`<${App} />`, root);
