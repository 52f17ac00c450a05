import path from 'node:path';
import { REPO_ROOT } from '@larder/testing';

export const E2E_DIR = path.resolve(__dirname, '..');
export const PROTO_DIR = path.join(REPO_ROOT, 'proto');

export const PYTHON_REQUIREMENTS = path.join(E2E_DIR, 'toolchain/requirements.txt');
export const GO_TEMPLATE = path.join(E2E_DIR, 'buf.gen.go.yaml');
export const PYTHON_CLIENT = path.join(E2E_DIR, 'clients/python/larder_e2e_client.py');
export const GO_CLIENT_DIR = path.join(E2E_DIR, 'clients/go');
