// @ts-check
// How apps appear through the GraphQL API: fly-go's App / AppCompact types (PascalCase, every
// field present as Go marshals zero values). AppURL is the simulator's convention: the loopback
// URL of the app's router, where real Fly has https://<app>.fly.dev.
import { observedState } from './machines.js';
import { releasesNewestFirst } from './releases.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** @param {import('./state.js').AppRecord} app */
export function appStatus(app) {
  const machines = Object.values(app.machines);
  if (machines.length === 0) return 'pending';
  return machines.some((machine) => observedState(machine) === 'started') ? 'deployed' : 'suspended';
}

/** @param {import('./state.js').AppRecord} app */
export function isDeployed(app) {
  return app.releases.some((release) => release.status === 'complete');
}

/** @param {import('./state.js').AppRecord} app */
export function appUrl(app) {
  return app.router?.port ? `http://127.0.0.1:${app.router.port}` : '';
}

/** @param {import('./state.js').AppRecord} app */
export function appHostname(app) {
  return `${app.name}.fly.dev`;
}

/**
 * fly.App as `apps list --json` renders it (only the queried fields are filled in).
 * @param {import('./state.js').AppRecord} app
 * @param {import('./state.js').Settings} settings
 */
export function renderAppForList(app, settings) {
  const current = releasesNewestFirst(app)[0];
  const emptyImage = { Registry: '', Repository: '', Tag: '', Version: '', Digest: '' };
  return {
    ID: app.id,
    InternalNumericID: 0,
    Name: app.name,
    State: '',
    Status: appStatus(app),
    Deployed: isDeployed(app),
    Hostname: appHostname(app),
    AppURL: '',
    Version: 0,
    NetworkID: 0,
    Network: '',
    Release: null,
    Organization: {
      ID: '', InternalNumericID: '', Name: settings.org.name, RemoteBuilderImage: '', RemoteBuilderApp: null,
      Slug: app.orgSlug, RawSlug: '', Type: '', PaidPlan: false, Billable: false, Settings: null,
      AllowedReplaySourceOrgSlugs: null, AllowAllCrossNetworkReplays: false, WireGuardPeer: null,
      WireGuardPeers: { Nodes: null, Edges: null }, DelegatedWireGuardTokens: { Nodes: null, Edges: null }, LoggedCertificates: null,
    },
    Secrets: null,
    CurrentRelease: current ? {
      ID: '', Version: 0, Stable: false, InProgress: false, Reason: '', Description: '', Status: current.status,
      DeploymentStrategy: '', Metadata: null, User: { ID: '', Name: '', Email: '', EnablePaidHobby: false },
      EvaluationID: '', CreatedAt: current.createdAt, ImageRef: '',
    } : null,
    Releases: { Nodes: null },
    IPAddresses: { Nodes: null },
    EgressIpAddresses: { Nodes: null },
    SharedIPAddress: '',
    CNAMETarget: '',
    IPAddress: null,
    Certificates: { Nodes: null },
    Certificate: {
      ID: '', AcmeDNSConfigured: false, AcmeALPNConfigured: false, Configured: false, CertificateAuthority: '',
      CreatedAt: ZERO_TIME, DNSProvider: '', DNSValidationInstructions: '', DNSValidationHostname: '',
      DNSValidationTarget: '', Hostname: '', Source: '', ClientStatus: '', IsApex: false, IsWildcard: false,
      ValidationErrors: null, Issued: { Nodes: null },
    },
    PostgresAppRole: null,
    Image: null,
    ImageUpgradeAvailable: false,
    ImageVersionTrackingEnabled: false,
    ImageDetails: emptyImage,
    LatestImageDetails: emptyImage,
    PlatformVersion: 'machines',
    Machines: { Nodes: null },
    CurrentLock: null,
  };
}

/**
 * fly-go's OrganizationBasic, as `status --json` embeds it.
 * @param {import('./state.js').AppRecord} app
 * @param {import('./state.js').Settings} settings
 */
export function renderOrganizationBasic(app, settings) {
  return { ID: settings.org.id, InternalNumericID: settings.org.internalNumericId, Name: settings.org.name, Slug: app.orgSlug, RawSlug: app.orgSlug, PaidPlan: false };
}
