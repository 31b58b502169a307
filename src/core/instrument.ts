/**
 * Store timing: every method call of a Store, observed in `bootherd_store_seconds{op}` by method name. A Proxy, so
 * a method added to Store (or one only an engine has) is timed without a change here.
 */
import type { Store } from '../store/types.ts';
import type { Metrics } from './metrics.ts';

type Method = (...args: unknown[]) => unknown;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export function instrumentStore(store: Store, metrics: Metrics): Store {
  // One wrapper per method, so `store.x === store.x` still holds and a hot path allocates nothing per call.
  const wrappers = new Map<string, Method>();
  return new Proxy(store, {
    get(target, prop) {
      // The target as receiver: engines keep state in private fields, which a Proxy receiver cannot reach.
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof prop !== 'string' || typeof value !== 'function' || prop === 'constructor') return value;
      let wrapped = wrappers.get(prop);
      if (!wrapped) {
        const method = value as Method;
        wrapped = (...args: unknown[]): unknown => {
          const end = metrics.storeSeconds.startTimer({ op: prop });
          let result: unknown;
          try {
            result = method.apply(target, args);
          } catch (err) {
            end();
            throw err;
          }
          if (!isThenable(result)) {
            end();
            return result;
          }
          // Failed calls are timed too: a slow failure is what an operator needs to see.
          return Promise.resolve(result).finally(() => end());
        };
        wrappers.set(prop, wrapped);
      }
      return wrapped;
    },
  });
}
