import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, expectTypeOf, it } from 'vitest'
import type {
  BootstrapAddress,
  Clock,
  CloseOptions,
  CloseReport,
  DhtStatus,
  ExtensionErrorInfo,
  HyperswarmOptions,
  NamespacingStore,
  NetworkerDiagnostics,
  NetworkerEvents,
  RestoreOptions,
  TransportInfo,
} from '../../src/index.js'
import { ROOT } from '../helpers/build.js'

/**
 * Types a user had to do without (issue 18), imported as a user would: `npm run typecheck`
 * fails if one of them stops being exported.
 */
type ImportedByName = [
  BootstrapAddress,
  Clock,
  CloseOptions,
  CloseReport,
  DhtStatus,
  ExtensionErrorInfo,
  HyperswarmOptions,
  NamespacingStore,
  NetworkerDiagnostics,
  NetworkerEvents,
  RestoreOptions,
  TransportInfo,
]

/**
 * Every type a user meets in the public API must be importable from the package: a type
 * named in a public signature but not exported can be used (inferred) yet never written
 * down. This walks the package entry's exports — each exported class's public members,
 * each interface's and type alias's parts, each function's parameters and result — and
 * every type of our own they mention, transitively, and lists those index.ts leaves out.
 */
function unexportedPublicTypes(): string[] {
  const entry = join(ROOT, 'src', 'index.ts')
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
  })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(entry)
  const moduleSymbol = source === undefined ? undefined : checker.getSymbolAtLocation(source)
  if (moduleSymbol === undefined) throw new Error('src/index.ts did not load')
  const resolve = (s: ts.Symbol): ts.Symbol =>
    s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s
  const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(resolve))
  const ours = (d: ts.Declaration): boolean =>
    d.getSourceFile().fileName.startsWith(join(ROOT, 'src'))
  const missing = new Map<string, string>()
  const seen = new Set<ts.Symbol>()

  const visitSymbol = (symbol: ts.Symbol, usedIn: string): void => {
    const s = resolve(symbol)
    if (seen.has(s)) return
    const decls = (s.declarations ?? []).filter(ours)
    if (decls.length === 0) return
    const named =
      s.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class)
    if (named && !exported.has(s)) {
      const file = decls[0]!.getSourceFile().fileName.slice(ROOT.length + 1)
      missing.set(s.name, `${s.name} (${file}), used in ${usedIn}`)
    }
    seen.add(s)
    for (const d of decls) visitDeclaration(d, s.name)
  }

  const visitTypeNode = (node: ts.Node, usedIn: string): void => {
    if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
      const target = ts.isTypeReferenceNode(node) ? node.typeName : node.expression
      const symbol = checker.getSymbolAtLocation(target)
      if (symbol !== undefined && !(symbol.flags & ts.SymbolFlags.TypeParameter)) {
        visitSymbol(symbol, usedIn)
      }
    }
    if (ts.isTypeQueryNode(node)) {
      const symbol = checker.getSymbolAtLocation(node.exprName)
      if (symbol !== undefined) visitSymbol(symbol, usedIn)
    }
    ts.forEachChild(node, (child) => visitTypeNode(child, usedIn))
  }

  const isHidden = (member: ts.Node): boolean => {
    const flags = ts.getCombinedModifierFlags(member as ts.Declaration)
    if (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) return true
    // A member named with # or marked @internal is not for users.
    const name = (member as { name?: ts.Node }).name
    if (name !== undefined && ts.isPrivateIdentifier(name)) return true
    return ts.getJSDocTags(member).some((tag) => tag.tagName.text === 'internal')
  }

  const visitDeclaration = (decl: ts.Declaration, name: string): void => {
    if (ts.isClassDeclaration(decl) || ts.isInterfaceDeclaration(decl)) {
      for (const clause of decl.heritageClauses ?? []) visitTypeNode(clause, name)
      for (const member of decl.members) {
        if (isHidden(member)) continue
        // Constructor bodies and method bodies are implementation, not API.
        if (ts.isConstructorDeclaration(member) || ts.isMethodDeclaration(member)) {
          for (const p of member.parameters) if (p.type) visitTypeNode(p.type, name)
          if (ts.isMethodDeclaration(member) && member.type) visitTypeNode(member.type, name)
          continue
        }
        if (ts.isPropertyDeclaration(member) && member.type === undefined) {
          // An inferred property type: name what it infers to.
          const type = checker.getTypeAtLocation(member)
          const symbol = type.aliasSymbol ?? type.getSymbol()
          if (symbol !== undefined) visitSymbol(symbol, name)
          continue
        }
        ts.forEachChild(member, (child) => {
          if (!ts.isBlock(child)) visitTypeNode(child, name)
        })
      }
      return
    }
    if (ts.isTypeAliasDeclaration(decl)) {
      visitTypeNode(decl.type, name)
      return
    }
    if (ts.isFunctionDeclaration(decl)) {
      for (const p of decl.parameters) if (p.type) visitTypeNode(p.type, name)
      if (decl.type) visitTypeNode(decl.type, name)
      return
    }
    if (ts.isVariableDeclaration(decl) && decl.type !== undefined) visitTypeNode(decl.type, name)
  }

  for (const symbol of exported) visitSymbol(symbol, 'src/index.ts')
  return [...missing.values()].sort()
}

describe('the public API', () => {
  it('exports the types a user had to do without', () => {
    expectTypeOf<ImportedByName>().toBeArray()
  })

  it('exports every type its signatures name', () => {
    expect(unexportedPublicTypes()).toEqual([])
  }, 120_000)
})
