// The providers by type. Another provider (Datadog, CloudWatch, …) is a module beside these and one line here; the
// spec, the runner and the workflows do not change.
import type { Provider } from './provider';
import { jobProvider } from './providers/job';
import { prometheusProvider } from './providers/prometheus';
import { webProvider } from './providers/web';
import type { ProviderSpec } from './types';

const PROVIDERS = {
  web: webProvider,
  prometheus: prometheusProvider,
  job: jobProvider,
} satisfies { [K in ProviderSpec['type']]: Provider<Extract<ProviderSpec, { type: K }>> };

export const PROVIDER_TYPES = Object.keys(PROVIDERS) as ProviderSpec['type'][];

export function providerFor<P extends ProviderSpec>(spec: P): Provider<P> {
  return PROVIDERS[spec.type] as unknown as Provider<P>;
}
