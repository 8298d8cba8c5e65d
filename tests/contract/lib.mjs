// Shared by the contract tests: the repository's top folder and
// docs/openapi.yaml parsed (YAML anchors resolved, $refs kept).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';

export const top = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export async function loadDocument() {
  return YAML.parse(readFileSync(`${top}/docs/openapi.yaml`, 'utf8'), { maxAliasCount: -1 });
}
