// Which prebuilt images an environment may deploy: by default only those in the app's own Fly
// registry (registry.fly.io/<flyApp>), so a stolen token or a compromised CI job cannot deploy
// `evil.io/x:1`. An environment lists other registries (prefixes) in allowedImageRegistries.
import type { EnvironmentConfig } from './config.js';

export function allowedImagePrefixes(env: Pick<EnvironmentConfig, 'flyApp' | 'allowedImageRegistries'>): string[] {
  return [`registry.fly.io/${env.flyApp}`, ...env.allowedImageRegistries];
}

export function isImageAllowed(env: Pick<EnvironmentConfig, 'flyApp' | 'allowedImageRegistries'>, image: string): boolean {
  // A repository prefix matches the repository itself (then a tag or digest), never a longer name.
  return allowedImagePrefixes(env).some((prefix) => prefix.endsWith('/')
    ? image.startsWith(prefix)
    : image.startsWith(`${prefix}:`) || image.startsWith(`${prefix}@`));
}

export function describeImageRefusal(env: Pick<EnvironmentConfig, 'flyApp' | 'allowedImageRegistries'>, image: string): string {
  return `${image} is not from an allowed registry for this environment (${allowedImagePrefixes(env).join(', ')}); `
    + 'an environment allows others with allowedImageRegistries';
}
