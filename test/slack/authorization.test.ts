import { describe, expect, it } from 'vitest';
import { authorizeAppAction, authorizeChannel, authorizeDatabaseAction, authorizeRunAction } from '../../lib/authorization.js';
import { parseAppsConfig } from '../../lib/config.js';

const config = parseAppsConfig({
  apps: {
    shop: {
      repository: '/repo',
      environments: {
        staging: { flyApp: 'shop-staging' },
        production: {
          flyApp: 'shop', approval: { required: true, approvers: ['UBOSS'] },
          permissions: { rollback: ['UONCALL', 'UBOSS'] },
        },
        demo: { flyApp: 'shop-demo', permissions: { deploy: ['UDEV'], lock: [] } },
      },
    },
  },
  databases: {
    shopdb: { app: 'shop', secret: 'SHOP_DATABASE_URL', permissions: { migrate: ['UDBA'] } },
    rawdb: { secret: 'RAW_DATABASE_URL' },
  },
  slack: { allowedChannels: ['CDEPLOYS'] },
});
const allowed = { isAllowed: true };

describe('authorization', () => {
  it('lets anyone deploy where no list is set and approval is not required', () => {
    expect(authorizeAppAction(config, 'UANYONE', 'deploy', 'shop', 'staging')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UANYONE', 'rollback', 'shop', 'staging')).toEqual(allowed);
  });

  it('limits deploys to approvers when the environment requires approval and lists nobody', () => {
    expect(authorizeAppAction(config, 'UBOSS', 'deploy', 'shop', 'production')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UANYONE', 'deploy', 'shop', 'production')).toEqual({ isAllowed: false, reason: 'UANYONE may not deploy shop/production; allowed: UBOSS' });
  });

  it('uses an explicit list, and an empty list allows nobody', () => {
    expect(authorizeAppAction(config, 'UONCALL', 'rollback', 'shop', 'production')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UDEV', 'deploy', 'shop', 'demo')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UDEV', 'lock', 'shop', 'demo')).toMatchObject({ isAllowed: false, reason: expect.stringContaining('nobody is allowed to') });
  });

  it('lets whoever may deploy lock, when no lock list is set', () => {
    expect(authorizeAppAction(config, 'UANYONE', 'lock', 'shop', 'staging')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UANYONE', 'lock', 'shop', 'production')).toMatchObject({ isAllowed: false });
  });

  it('lets only approvers approve, and nobody where none are configured', () => {
    expect(authorizeAppAction(config, 'UBOSS', 'approve', 'shop', 'production')).toEqual(allowed);
    expect(authorizeAppAction(config, 'UONCALL', 'approve', 'shop', 'production')).toMatchObject({ isAllowed: false });
    expect(authorizeAppAction(config, 'UBOSS', 'approve', 'shop', 'staging')).toMatchObject({ isAllowed: false });
  });

  it('refuses unknown apps and environments', () => {
    expect(authorizeAppAction(config, 'UBOSS', 'deploy', 'shop', 'moon')).toEqual({ isAllowed: false, reason: 'shop/moon is not a configured app and environment' });
  });

  it('lets anyone back up, and nobody restore or migrate unless listed', () => {
    expect(authorizeDatabaseAction(config, 'UANYONE', 'backup', 'rawdb')).toEqual(allowed);
    expect(authorizeDatabaseAction(config, 'UANYONE', 'restore', 'rawdb')).toMatchObject({ isAllowed: false });
    expect(authorizeDatabaseAction(config, 'UDBA', 'migrate', 'shopdb')).toEqual(allowed);
    expect(authorizeDatabaseAction(config, 'UANYONE', 'migrate', 'shopdb')).toMatchObject({ isAllowed: false });
  });

  const withRestorers = parseAppsConfig({
    apps: {
      shop: {
        repository: '/repo',
        environments: {
          production: { flyApp: 'shop', database: { secret: 'SHOP_DATABASE_URL' }, permissions: { restore: ['UDBA'] } },
          staging: { flyApp: 'shop-staging', database: { secret: 'SHOP_STAGING_DATABASE_URL' }, permissions: { restore: ['USTAGINGDEV'] } },
        },
      },
    },
    databases: { shopdb: { app: 'shop', secret: 'SHOP_DATABASE_URL' }, shopstaging: { app: 'shop', secret: 'SHOP_STAGING_DATABASE_URL' } },
  });

  it("falls back to the restore lists of the environment whose database it is, never another environment's", () => {
    expect(authorizeDatabaseAction(withRestorers, 'UDBA', 'restore', 'shopdb')).toEqual(allowed);
    expect(authorizeDatabaseAction(withRestorers, 'UOTHER', 'restore', 'shopdb')).toMatchObject({ isAllowed: false });
    expect(authorizeDatabaseAction(withRestorers, 'USTAGINGDEV', 'restore', 'shopdb')).toMatchObject({ isAllowed: false, reason: 'USTAGINGDEV may not restore shopdb; allowed: UDBA' });
    expect(authorizeDatabaseAction(withRestorers, 'USTAGINGDEV', 'restore', 'shopstaging')).toEqual(allowed);
  });

  it('refuses the requester of a production deploy or restore as its approver (four-eyes), unless the environment allows it', () => {
    const ownDeploy = { kind: 'deploy' as const, app: 'shop', environment: 'production', trigger: { source: 'slack' as const, actor: 'UBOSS', identity: 'UBOSS' } };
    expect(authorizeRunAction(config, 'UBOSS', 'approve', ownDeploy)).toEqual({ isAllowed: false, reason: 'UBOSS requested this deploy and cannot approve it too: another approver must (four-eyes)' });
    const ownRestore = { kind: 'restore' as const, database: 'shopdb', trigger: { source: 'slack' as const, actor: 'UDBA', identity: 'UDBA' } };
    expect(authorizeRunAction(withRestorers, 'UDBA', 'approve', ownRestore)).toMatchObject({ isAllowed: false, reason: expect.stringContaining('four-eyes') });
    const selfApproving = parseAppsConfig({ apps: { shop: { repository: '/repo', environments: { production: { flyApp: 'shop', approval: { required: true, approvers: ['UBOSS'], selfApproval: true } } } } } });
    expect(authorizeRunAction(selfApproving, 'UBOSS', 'approve', ownDeploy)).toEqual(allowed);
  });

  it("lets a database's restorers approve its restore, and an environment's approvers approve its deploy", () => {
    const restore = { kind: 'restore' as const, database: 'shopdb' };
    expect(authorizeRunAction(withRestorers, 'UDBA', 'approve', restore)).toEqual(allowed);
    expect(authorizeRunAction(withRestorers, 'UOTHER', 'approve', restore)).toMatchObject({ isAllowed: false, reason: expect.stringContaining('may not restore shopdb') });
    const deploy = { kind: 'deploy' as const, app: 'shop', environment: 'production' };
    expect(authorizeRunAction(config, 'UBOSS', 'approve', deploy)).toEqual(allowed);
    expect(authorizeRunAction(config, 'UDBA', 'approve', deploy)).toMatchObject({ isAllowed: false });
  });

  it('accepts commands only in allowed channels when a list is set', () => {
    expect(authorizeChannel(config, 'CDEPLOYS')).toEqual(allowed);
    expect(authorizeChannel(config, 'CRANDOM')).toMatchObject({ isAllowed: false, reason: expect.stringContaining('use one of: CDEPLOYS') });
    expect(authorizeChannel(parseAppsConfig({}), 'CRANDOM')).toEqual(allowed);
  });
});
