// Is package.json's `engines.node` honest? Every Node version it admits must be one every installed
// dependency admits too (its own `engines.node`, as recorded in package-lock.json), and the Docker
// image's Node must be one of them. Run by .ci/run (and test/unit/engines.test.ts), which also says
// whether the Node running CI is a supported one or only a compatibility run (these machines have 20).
//   node --import tsx scripts/checkEngines.ts
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';

export interface EnginesReport {
  /** package.json's engines.node. */
  supported: string;
  /** Installed packages whose engines.node refuses some version `supported` admits. */
  narrower: Array<{ name: string; range: string }>;
  /** The Node image of each FROM node:… line of the Dockerfile, and whether `supported` admits it. */
  images: Array<{ image: string; isSupported: boolean }>;
}

export function checkEngines(root: string): EnginesReport {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines?: { node?: string } };
  const supported = pkg.engines?.node;
  if (!supported || !semver.validRange(supported)) throw new Error(`package.json has no valid engines.node (found ${String(supported)})`);
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> };
  const narrower = Object.entries(lock.packages)
    .filter(([location]) => location !== '' && fs.existsSync(path.join(root, location)))
    .flatMap(([location, entry]) => {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (!range || !semver.validRange(range) || semver.subset(supported, range)) return [];
      return [{ name: location.replace(/^.*node_modules\//, ''), range }];
    });
  const images = [...fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8').matchAll(/^FROM\s+node:(\d+)(\S*)/gm)]
    // node:26 is the newest 26.x.
    .map((m) => ({ image: `node:${m[1]}${m[2]}`, isSupported: semver.satisfies(`${m[1]}.999.0`, supported) }));
  return { supported, narrower, images };
}

function main(): void {
  const report = checkEngines(fileURLToPath(new URL('..', import.meta.url)));
  const problems = [
    ...report.narrower.map((p) => `${p.name} supports node ${p.range}, narrower than engines.node ${report.supported}`),
    ...report.images.filter((i) => !i.isSupported).map((i) => `the Dockerfile's ${i.image} is outside engines.node ${report.supported}`),
  ];
  for (const problem of problems) console.error(`engines: ${problem}`);
  if (semver.satisfies(process.version, report.supported)) {
    console.log(`engines: node ${report.supported}; this is ${process.version}, a supported version`);
  } else {
    console.log(`engines: node ${report.supported}; this is ${process.version}, NOT a supported version: the tests below run as a compatibility check only`);
  }
  if (problems.length) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
