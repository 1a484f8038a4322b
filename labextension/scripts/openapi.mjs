/**
 * The panel's API types, generated from the jobs service's OpenAPI document with
 * openapi-typescript (pinned in devDependencies).
 *
 *   jlpm openapi:gen    writes src/openapi.d.ts from ../aiinfn_hub/jobs/openapi.yaml
 *   jlpm openapi:check  regenerates into a temporary file and fails if it differs from
 *                       the committed src/openapi.d.ts (part of `jlpm lint:check`)
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import openapiTS, { astToString } from 'openapi-typescript';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const SOURCE = resolve(ROOT, '..', 'aiinfn_hub', 'jobs', 'openapi.yaml');
const TARGET = resolve(ROOT, 'src', 'openapi.d.ts');

const HEADER = `/**
 * GENERATED FILE: do not edit. The jobs service's API types, made by openapi-typescript
 * from aiinfn_hub/jobs/openapi.yaml. After changing that document, run \`jlpm openapi:gen\`
 * in labextension/ and commit the result; \`jlpm openapi:check\` (in \`jlpm lint:check\`,
 * hence \`make lint\` and \`make test\`) fails while this file is out of date.
 */
`;

/** The generated module's text: the header, then openapi-typescript's output. */
async function generate() {
  const ast = await openapiTS(pathToFileURL(SOURCE), {
    // A schema that says only `type: object` is any object, not an empty one.
    emptyObjectsUnknown: true
  });
  return HEADER + astToString(ast);
}

async function main() {
  const check = process.argv.includes('--check');
  const text = await generate();
  const shown = relative(process.cwd(), TARGET);
  if (!check) {
    writeFileSync(TARGET, text);
    console.log(`wrote ${shown} from ${relative(process.cwd(), SOURCE)}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'aiinfn-openapi-'));
  const fresh = join(dir, 'openapi.d.ts');
  writeFileSync(fresh, text);
  let committed = '';
  try {
    committed = readFileSync(TARGET, 'utf8');
  } catch {
    // Missing: reported as out of date below.
  }
  if (committed === readFileSync(fresh, 'utf8')) {
    rmSync(dir, { recursive: true, force: true });
    console.log(`${shown} matches aiinfn_hub/jobs/openapi.yaml`);
    return;
  }
  console.error(
    `${shown} is out of date: aiinfn_hub/jobs/openapi.yaml has changed since it was ` +
      'generated (or the file was edited by hand).\n' +
      `Fix: run \`jlpm openapi:gen\` in labextension/ and commit ${shown}.\n` +
      `See the difference: diff ${TARGET} ${fresh}`
  );
  process.exit(1);
}

main().catch(error => {
  console.error(`cannot generate the API types: ${error?.message ?? error}`);
  process.exit(1);
});
