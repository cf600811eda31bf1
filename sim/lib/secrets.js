// @ts-check
// App secrets: values (machines get them as environment variables), digests, and the deployment
// status `fly secrets list` computes: Deployed when every machine runs a release created after the
// secret changed, Staged when none does, Partial in between (internal/command/secrets/list.go).
import { createHash } from 'node:crypto';
import { splitAssignment } from './assignments.js';
import { FlyError } from './errors.js';

/** @param {string} value */
export function secretDigest(value) {
  return createHash('sha256').update(value).digest('hex').slice(0, 16);
}

/**
 * NAME=VALUE arguments of `secrets set`.
 * @param {string[]} args
 * @returns {Array<[string, string]>}
 */
export function parseSecretAssignments(args) {
  if (args.length === 0) throw new FlyError('requires at least one SECRET=VALUE pair');
  return args.map((arg) => {
    const assignment = splitAssignment(arg);
    if (!assignment) throw new FlyError(`Secrets must be provided as NAME=VALUE pairs (${arg} is invalid)`);
    return assignment;
  });
}

/**
 * @param {import('./state.js').AppRecord} app
 * @param {import('./state.js').SecretRecord} secret
 * @returns {'Deployed' | 'Staged' | 'Partial' | 'Unknown'}
 */
export function secretStatus(app, secret) {
  const machines = Object.values(app.machines);
  if (machines.length === 0) return 'Staged';
  const releaseCreatedAt = new Map(app.releases.map((release) => [String(release.version), release.createdAtMs]));
  const machinesWithSecret = machines.filter((machine) => {
    const createdAtMs = releaseCreatedAt.get(machine.config.metadata.fly_release_version);
    return createdAtMs !== undefined && secret.updatedAtMs <= createdAtMs;
  }).length;
  if (machinesWithSecret === 0) return 'Staged';
  return machinesWithSecret === machines.length ? 'Deployed' : 'Partial';
}
