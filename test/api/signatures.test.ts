import { describe, expect, it } from 'vitest';
import { hmacSha256Hex, isSameSecret, isValidGitHubSignature, verifyTimestampedSignature } from '../../api/signatures.js';

describe('GitHub webhook signatures', () => {
  it("verifies GitHub's published test vector", () => {
    const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(isValidGitHubSignature(Buffer.from('Hello, World!'), header, ["It's a Secret to Everybody"])).toBe(true);
  });

  it('accepts the previous secret during a rotation and refuses any other', () => {
    const body = Buffer.from('{"zen":"Keep it logically awesome."}');
    const signedWithOld = `sha256=${hmacSha256Hex('old-secret', body)}`;
    expect(isValidGitHubSignature(body, signedWithOld, ['new-secret', 'old-secret'])).toBe(true);
    expect(isValidGitHubSignature(body, signedWithOld, ['new-secret'])).toBe(false);
  });

  it('refuses a missing header, another algorithm and a body changed after signing', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    const signature = `sha256=${hmacSha256Hex('s', body)}`;
    expect(isValidGitHubSignature(body, undefined, ['s'])).toBe(false);
    expect(isValidGitHubSignature(body, signature.replace('sha256=', 'sha1='), ['s'])).toBe(false);
    expect(isValidGitHubSignature(Buffer.from('{"ref":"refs/heads/evil"}'), signature, ['s'])).toBe(false);
  });
});

describe('timestamped (CI) signatures', () => {
  const secret = 'ci-secret';
  const body = Buffer.from('{"app":"shop"}');
  const nowMs = 1_790_000_000_000;
  const sign = (timestamp: number) => `v0=${hmacSha256Hex(secret, `v0:${timestamp}:${body.toString()}`)}`;
  const verify = (timestamp: number, signature = sign(timestamp)) =>
    verifyTimestampedSignature({ rawBody: body, timestamp: String(timestamp), signature, secret, nowMs });

  it('accepts a signature made within the last five minutes', () => {
    expect(verify(nowMs / 1000 - 299)).toEqual({ isValid: true });
  });

  it('refuses a stale and a future timestamp, saying how far off it is', () => {
    expect(verify(nowMs / 1000 - 301)).toEqual({ isValid: false, reason: 'the timestamp is 301 s from now (at most 300 s allowed)' });
    expect(verify(nowMs / 1000 + 600)).toMatchObject({ isValid: false, reason: expect.stringContaining('600 s from now') });
  });

  it('refuses a forged signature and a timestamp moved after signing', () => {
    const timestamp = nowMs / 1000;
    expect(verify(timestamp, `v0=${hmacSha256Hex('guess', `v0:${timestamp}:${body.toString()}`)}`)).toEqual({ isValid: false, reason: 'the signature does not match' });
    expect(verify(timestamp - 10, sign(timestamp))).toEqual({ isValid: false, reason: 'the signature does not match' });
  });

  it('refuses missing headers and a timestamp that is not a number', () => {
    expect(verifyTimestampedSignature({ rawBody: body, timestamp: undefined, signature: 'v0=aa', secret, nowMs })).toMatchObject({ isValid: false });
    expect(verifyTimestampedSignature({ rawBody: body, timestamp: '1e9', signature: 'v0=aa', secret, nowMs })).toEqual({ isValid: false, reason: 'the timestamp is not Unix seconds' });
  });
});

describe('secret comparison', () => {
  it('compares secrets of different lengths without throwing', () => {
    expect(isSameSecret('short', 'a much longer secret')).toBe(false);
    expect(isSameSecret('same', 'same')).toBe(true);
  });
});
