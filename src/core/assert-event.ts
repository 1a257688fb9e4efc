import {
  type EventDescriptor,
  type EventObject,
  type ExtractEvent,
  assertEvent as xstateAssertEvent,
} from 'xstate'

/**
 * XState's `assertEvent`, with the exact type compared first. XState's makes an array and a
 * closure per call to match descriptors (three of its calls were ~350 B of the core's ~2 KB
 * per configure), and a guard or action is only given events of its own transitions, so
 * the check passes nearly always. Anything else (a wildcard descriptor, a wrong event) goes
 * to XState's, which throws its own error for a wrong event.
 */
export function assertEvent<TEvent extends EventObject, TType extends EventDescriptor<TEvent>>(
  event: TEvent,
  type: TType | readonly TType[],
): asserts event is ExtractEvent<TEvent, TType> {
  if (typeof type === 'string' ? event.type === type : type.includes(event.type as TType)) return
  xstateAssertEvent(event, type)
}
