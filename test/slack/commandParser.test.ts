import { describe, expect, it } from 'vitest';
import { parseSlackCommand, type SlackCatalog } from '../../api/slack/commandParser.js';

const catalog: SlackCatalog = {
  apps: { shop: ['staging', 'production'], blog: ['production'], api: ['eu', 'us'] },
  databases: ['shopdb'],
};
const parse = (text: string) => parseSlackCommand(text, catalog);

describe('slash command parser', () => {
  it('deploys to the named environment at a branch, or at a commit sha', () => {
    expect(parse('deploy shop production release-1.2')).toEqual({ name: 'deploy', app: 'shop', environment: 'production', ref: 'release-1.2' });
    expect(parse('deploy shop production 3f9c2ab')).toEqual({ name: 'deploy', app: 'shop', environment: 'production', sha: '3f9c2ab' });
  });

  it("defaults to the app's only environment, else to staging", () => {
    expect(parse('deploy blog')).toEqual({ name: 'deploy', app: 'blog', environment: 'production' });
    expect(parse('deploy shop')).toEqual({ name: 'deploy', app: 'shop', environment: 'staging' });
    expect(parse('status api')).toMatchObject({ name: 'help', problem: 'api has several environments (eu, us); name one.' });
  });

  it("reads an environment's release ledger", () => {
    expect(parse('releases shop production')).toEqual({ name: 'releases', app: 'shop', environment: 'production' });
    expect(parse('releases blog')).toEqual({ name: 'releases', app: 'blog', environment: 'production' });
    expect(parse('releases shop production extra')).toMatchObject({ name: 'help' });
  });

  it('never takes a mistyped environment for a ref', () => {
    expect(parse('deploy shop prod')).toEqual({ name: 'help', problem: 'shop has no environment "prod"; it has: staging, production.' });
  });

  it('refuses refs git would refuse, and unknown apps, with what exists', () => {
    expect(parse('deploy shop staging --upload-pack=x')).toMatchObject({ name: 'help', problem: '"--upload-pack=x" is not a branch, tag or commit sha.' });
    expect(parse('deploy nope')).toEqual({ name: 'help', problem: 'Unknown app "nope"; configured: shop, blog, api.' });
    expect(parse('deploy constructor')).toMatchObject({ name: 'help', problem: expect.stringContaining('Unknown app "constructor"') });
  });

  it('rolls back to the last good release, a release version, or an image', () => {
    expect(parse('rollback shop')).toEqual({ name: 'rollback', app: 'shop', environment: 'staging' });
    expect(parse('rollback shop production v12')).toEqual({ name: 'rollback', app: 'shop', environment: 'production', releaseVersion: 12 });
    expect(parse('rollback shop production registry.fly.io/shop:deployment-01HX')).toEqual({ name: 'rollback', app: 'shop', environment: 'production', image: 'registry.fly.io/shop:deployment-01HX' });
    expect(parse('rollback shop production ;rm')).toMatchObject({ name: 'help', problem: expect.stringContaining('neither a release version') });
  });

  it('reads history for every environment unless one is named', () => {
    expect(parse('history shop')).toEqual({ name: 'history', app: 'shop' });
    expect(parse('history shop production')).toEqual({ name: 'history', app: 'shop', environment: 'production' });
  });

  it('takes run ids for approve, reject and cancel, with an optional comment', () => {
    expect(parse('approve deploy/shop/production/abc-1')).toEqual({ name: 'approve', workflowId: 'deploy/shop/production/abc-1' });
    expect(parse('reject deploy/shop/production/abc-1 not during the sale')).toEqual({ name: 'reject', workflowId: 'deploy/shop/production/abc-1', comment: 'not during the sale' });
    expect(parse('cancel deploy/x wrong branch')).toEqual({ name: 'cancel', workflowId: 'deploy/x', reason: 'wrong branch' });
    expect(parse('approve')).toMatchObject({ name: 'help', problem: expect.stringContaining('Name the run by its id') });
  });

  it('parses database commands', () => {
    expect(parse('backup shopdb')).toEqual({ name: 'backup', database: 'shopdb' });
    expect(parse('backup otherdb')).toEqual({ name: 'help', problem: 'Unknown database "otherdb"; configured: shopdb.' });
    expect(parse('restore shopdb-20261122T020000Z shop_copy')).toEqual({ name: 'restore', backupId: 'shopdb-20261122T020000Z', targetDatabase: 'shop_copy', isOverwriteConfirmed: false });
    expect(parse('restore b1 shop overwrite')).toMatchObject({ isOverwriteConfirmed: true });
    expect(parse('restore b1 Shop-Main')).toMatchObject({ name: 'help', problem: expect.stringContaining('not a Postgres database name') });
    expect(parse('migrate shopdb status')).toEqual({ name: 'migrate', target: 'shopdb', action: 'status' });
    expect(parse('migrate shopdb rollback 2')).toEqual({ name: 'migrate', target: 'shopdb', action: 'rollback', steps: 2 });
    expect(parse('migrate shopdb rollback')).toMatchObject({ name: 'help', problem: expect.stringContaining('how many migrations to undo') });
    expect(parse('migrate shopdb drop')).toMatchObject({ name: 'help', problem: expect.stringContaining('Unknown migrate action "drop"') });
  });

  it('locks with an optional expiry and reason once the environment is named', () => {
    expect(parse('lock shop')).toEqual({ name: 'lock', app: 'shop', environment: 'staging', reason: undefined, expiresIn: undefined });
    expect(parse('lock shop production for 2h release freeze')).toEqual({ name: 'lock', app: 'shop', environment: 'production', expiresIn: '2h', reason: 'release freeze' });
    expect(parse('lock shop production investigating errors')).toMatchObject({ reason: 'investigating errors', expiresIn: undefined });
    expect(parse('lock shop production for ever')).toMatchObject({ name: 'help', problem: expect.stringContaining('needs a duration like 30m') });
    expect(parse('unlock shop production')).toEqual({ name: 'unlock', app: 'shop', environment: 'production' });
  });

  it('restarts (the incident runbook) with an optional reason; stop, start and scale need the environment named', () => {
    expect(parse('restart shop production checkout 500s')).toEqual({ name: 'restart', app: 'shop', environment: 'production', reason: 'checkout 500s' });
    expect(parse('restart blog')).toEqual({ name: 'restart', app: 'blog', environment: 'production', reason: undefined });
    expect(parse('stop shop')).toMatchObject({ name: 'help', problem: expect.stringContaining('stop needs the app and the environment') });
    expect(parse('stop shop production data leak')).toEqual({ name: 'stop', app: 'shop', environment: 'production', reason: 'data leak' });
    expect(parse('start shop production')).toEqual({ name: 'start', app: 'shop', environment: 'production' });
    expect(parse('scale shop production 3 ams')).toEqual({ name: 'scale', app: 'shop', environment: 'production', count: 3, region: 'ams' });
    expect(parse('scale shop production lots')).toMatchObject({ name: 'help', problem: expect.stringContaining('machine count from 0 to 100') });
    expect(parse('scale shop production 2 Amsterdam')).toMatchObject({ name: 'help', problem: expect.stringContaining('not a Fly region code') });
  });

  it('answers anything else, and nothing at all, with the help text', () => {
    expect(parse('')).toEqual({ name: 'help' });
    expect(parse('help')).toEqual({ name: 'help' });
    expect(parse('yolo shop')).toEqual({ name: 'help', problem: 'Unknown command "yolo".' });
    expect(parse('deploy shop staging main extra')).toMatchObject({ name: 'help', problem: 'Too many words after "shop staging": main extra.' });
  });
});
