import { ErrorCode, NetworkerError } from '../core/errors.js'
import { checkHandlers, type ExtensionSpec, extensionArgsOf } from '../options.js'
import { Extension, type ExtensionHandlers } from './extension.js'
import type { ExtensionRegistry } from './extension-registry.js'

/**
 * registerExtension's three forms made into one Extension on the registry: handlers, all in
 * one object with the name, or a function of the extension returning the handlers (the
 * original module's form, so the handlers may close over the extension itself).
 */
export function createExtension<T>(
  nameOrSpec: string | (ExtensionHandlers<T> & { name: string }),
  spec: ExtensionSpec<T> | undefined,
  registry: ExtensionRegistry,
  maxMessageSize: number,
): Extension<T> {
  const { name, handlers } = extensionArgsOf(nameOrSpec, spec)
  const ext = new Extension<T>(
    name,
    typeof handlers === 'function' ? {} : handlers,
    registry,
    maxMessageSize,
  )
  if (typeof handlers === 'function') {
    const resolved = handlers(ext)
    if (typeof resolved !== 'object' || resolved === null) {
      throw new NetworkerError(
        ErrorCode.INVALID_OPTION,
        'an extension factory must return the handlers object',
      )
    }
    checkHandlers(resolved)
    ext.setHandlers(resolved)
  }
  registry.register(ext as Extension<unknown>)
  return ext
}
