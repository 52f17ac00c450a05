// The access vocabulary of @larder/auth, under the names the access tables use.
export type { Action, ObjectRef, ObjectType } from '@larder/auth';
