// The success / failure conditions of a metric: small expressions over a measurement's `result`, like Argo Rollouts'
// (`result[0] < 0.05`, `max(result) <= 0.3 && len(result) > 0`). jsep parses them (a tiny, well-kept expression
// parser with no evaluator); this module checks the tree against what the language allows and walks it. Nothing is
// ever handed to eval or Function: an expression can only read `result`, call the functions below and compare.
import jsep from 'jsep';

/** What `result` is: a number (a scalar), a list (one value per series) or a list of lists (a range query). */
export type ResultValue = number | ResultValue[];

export class ConditionError extends Error {
  readonly code = 'CONDITION_INVALID';
}

type Fn = (args: ResultValue[]) => number | boolean;
const flat = (v: ResultValue[]): number[] => v.flatMap((x) => (Array.isArray(x) ? flat(x) : [x]));
const numbers = (args: ResultValue[], name: string): number[] => {
  const all = flat(args);
  if (!all.length) throw new ConditionError(`${name}() of an empty result`);
  return all;
};
const FUNCTIONS: Record<string, Fn> = {
  len: ([v]) => (Array.isArray(v) ? v.length : 1),
  min: (a) => Math.min(...numbers(a, 'min')),
  max: (a) => Math.max(...numbers(a, 'max')),
  sum: (a) => flat(a).reduce((s, x) => s + x, 0),
  avg: (a) => {
    const all = numbers(a, 'avg');
    return all.reduce((s, x) => s + x, 0) / all.length;
  },
  isNaN: ([v]) => typeof v === 'number' && Number.isNaN(v),
};
const BINARY = new Set(['<', '<=', '>', '>=', '==', '!=', '&&', '||', '+', '-', '*', '/', '%']);
const UNARY = new Set(['!', '-', '+']);

type Value = ResultValue | boolean;
export type Condition = (result: ResultValue) => boolean;

/** Parses and checks an expression; throws a ConditionError saying what is wrong and where. */
export function compileCondition(source: string): Condition {
  let tree: jsep.Expression;
  try {
    tree = jsep(source);
  } catch (err) {
    throw new ConditionError((err as Error).message);
  }
  check(tree);
  return (result) => {
    const v = evaluate(tree, result);
    if (typeof v !== 'boolean') throw new ConditionError(`the condition gave ${describe(v)}, not true or false`);
    return v;
  };
}

function check(node: jsep.Expression): void {
  switch (node.type) {
    case 'Literal':
      if (typeof node.value !== 'number' && typeof node.value !== 'boolean')
        throw new ConditionError(`only numbers, true and false are allowed as values, not ${String(node.raw)}`);
      return;
    case 'Identifier':
      if (node.name !== 'result' && node.name !== 'NaN' && node.name !== 'Infinity')
        throw new ConditionError(`unknown name ${String(node.name)}: a condition reads only result`);
      return;
    case 'BinaryExpression':
      if (!BINARY.has(node.operator as string))
        throw new ConditionError(`operator ${String(node.operator)} is not allowed`);
      check(node.left as jsep.Expression);
      check(node.right as jsep.Expression);
      return;
    case 'UnaryExpression':
      if (!UNARY.has(node.operator as string))
        throw new ConditionError(`operator ${String(node.operator)} is not allowed`);
      check(node.argument as jsep.Expression);
      return;
    case 'MemberExpression':
      if (!node.computed) throw new ConditionError('use result[0], not result.something');
      check(node.object as jsep.Expression);
      check(node.property as jsep.Expression);
      return;
    case 'CallExpression': {
      const callee = node.callee as jsep.Expression;
      const name = callee.type === 'Identifier' ? String(callee.name) : '';
      if (!Object.hasOwn(FUNCTIONS, name))
        throw new ConditionError(
          `unknown function ${name || '(expression)'}; allowed: ${Object.keys(FUNCTIONS).join(', ')}`,
        );
      for (const a of node.arguments as jsep.Expression[]) check(a);
      return;
    }
    case 'Compound':
      throw new ConditionError('one expression only (no ; or ,)');
    default:
      throw new ConditionError(`${node.type} is not allowed in a condition`);
  }
}

function evaluate(node: jsep.Expression, result: ResultValue): Value {
  switch (node.type) {
    case 'Literal':
      return node.value as number | boolean;
    case 'Identifier':
      return node.name === 'result' ? result : node.name === 'NaN' ? Number.NaN : Number.POSITIVE_INFINITY;
    case 'UnaryExpression': {
      const v = evaluate(node.argument as jsep.Expression, result);
      if (node.operator === '!') return !bool(v);
      return node.operator === '-' ? -num(v) : num(v);
    }
    case 'BinaryExpression': {
      const op = node.operator as string;
      const left = evaluate(node.left as jsep.Expression, result);
      if (op === '&&') return bool(left) && bool(evaluate(node.right as jsep.Expression, result));
      if (op === '||') return bool(left) || bool(evaluate(node.right as jsep.Expression, result));
      const right = evaluate(node.right as jsep.Expression, result);
      if (op === '==' || op === '!=') {
        if (Array.isArray(left) || Array.isArray(right)) throw new ConditionError(`${op} compares values, not lists`);
        return op === '==' ? left === right : left !== right;
      }
      const a = num(left);
      const b = num(right);
      const out: Record<string, number | boolean> = {
        '<': a < b,
        '<=': a <= b,
        '>': a > b,
        '>=': a >= b,
        '+': a + b,
        '-': a - b,
        '*': a * b,
        '/': a / b,
        '%': a % b,
      };
      return out[op]!;
    }
    case 'MemberExpression': {
      const list = evaluate(node.object as jsep.Expression, result);
      const i = num(evaluate(node.property as jsep.Expression, result));
      if (!Array.isArray(list)) throw new ConditionError(`[${i}] of ${describe(list)}, which is not a list`);
      if (!Number.isInteger(i) || i < 0 || i >= list.length)
        throw new ConditionError(`result has ${list.length} value(s); [${i}] is not one of them`);
      return list[i]!;
    }
    case 'CallExpression': {
      const name = String((node.callee as jsep.Expression).name);
      const args = (node.arguments as jsep.Expression[]).map((a) => {
        const v = evaluate(a, result);
        if (typeof v === 'boolean') throw new ConditionError(`${name}() takes numbers or lists, not ${v}`);
        return v;
      });
      return FUNCTIONS[name]!(args);
    }
    default:
      throw new ConditionError(`${node.type} is not allowed in a condition`);
  }
}

function num(v: Value): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'number') return v[0];
  throw new ConditionError(`expected a number, got ${describe(v)}`);
}

function bool(v: Value): boolean {
  if (typeof v === 'boolean') return v;
  throw new ConditionError(`expected true or false, got ${describe(v)}`);
}

function describe(v: Value): string {
  return Array.isArray(v) ? `a list of ${v.length}` : String(v);
}
