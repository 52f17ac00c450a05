// @larder/auth: who is calling (JWTs, Kubernetes service-account tokens, client
// certificates), what they may do (Permission objects compiled per registry version),
// and the audit trail of writes and denials.

export { authConfigSchema, authConfigIssues, checkAuthConfig, isLoopbackHost, ASYMMETRIC_ALGORITHMS, AUTH_MODES } from './config';
export type { AuthConfig, AuthConfigSchema, AuthMode, AuthStartupContext } from './config';

export { ANONYMOUS_OPERATOR, identityMatcher, identityProblem, IDENTITY_KINDS } from './principal';
export type { CertificateIdentity, IdentityKind, Principal } from './principal';

export { createAuthenticator, MAX_TOKEN_BYTES } from './authenticator';
export type { Authenticator, AuthenticatorOptions, Credentials } from './authenticator';
export { claimStrings } from './claims';

export { allowAllAuthorizer, compileAuthorizer, deniedMessage } from './authorizer';
export { followPermissions } from './follow-permissions';
export { objectRef, objectsOfType, requestedObjects } from './registry-objects';
export type { AccessCheck, AccessLookup } from './registry-objects';
export type { PermissionSource } from './follow-permissions';
export type { Action, Authorizer, ObjectRef, ObjectType, PermissionInput, PolicyInput } from './authorizer';
export { compileGlob } from './glob';
export type { GlobMatcher } from './glob';

export { createAuditSink } from './audit';
export type { AuditEvent, AuditSink, AuditSinkOptions } from './audit';

export { authInterceptor, authenticateHttp, principalOf, sendHttpAuthFailure, PRINCIPAL_STATE_KEY } from './guards';
export { startServiceAuth } from './service-auth';
export type { ServiceAuth, ServiceAuthOptions } from './service-auth';
export type { HttpAuthFailure, HttpAuthResult } from './guards';
