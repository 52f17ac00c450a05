import type { registryV1 } from '@larder/proto';
import { allowAllAuthorizer, compileAuthorizer } from './authorizer';
import type { Authorizer } from './authorizer';

/** What a service's registry copy offers (structurally @larder/registry-client's RegistryClient). */
export interface PermissionSource {
  readonly version: bigint;
  projectNames(): readonly string[];
  permissions(project: string): readonly registryV1.Permission[];
  onChange(listener: () => void): unknown;
}

/**
 * The authorizer of a registry copy, compiled again each time the copy reaches a new
 * version, so a call pays for a lookup and never for compiling. With enforcement off it
 * allows everything at no cost.
 */
export function followPermissions(registry: PermissionSource, enforced: boolean): () => Authorizer {
  const compile = (): Authorizer =>
    enforced
      ? compileAuthorizer(
          registry.projectNames().flatMap((p) => registry.permissions(p)),
          registry.version,
        )
      : allowAllAuthorizer(registry.version);
  let current = compile();
  registry.onChange(() => {
    current = compile();
  });
  return () => current;
}
