// @ts-check
// Identifiers shaped like the platform's: 14-hex machine ids, ULIDs for instances, releases and
// image labels, 6PN private addresses.
import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function newMachineId() {
  return randomBytes(7).toString('hex');
}

/** A ULID: 48-bit millisecond time then 80 random bits, Crockford base32. */
export function newUlid(now = Date.now()) {
  let time = '';
  let rest = now;
  for (let i = 0; i < 10; i += 1) {
    time = CROCKFORD[rest % 32] + time;
    rest = Math.floor(rest / 32);
  }
  const random = Array.from(randomBytes(16), (byte) => CROCKFORD[byte % 32]).join('');
  return time + random;
}

export function newPrivateIp() {
  const hex = () => randomBytes(2).toString('hex').replace(/^0+(?=.)/, '');
  return `fdaa:0:${hex()}:a7b:${hex()}:${hex()}:${hex()}:2`;
}

/** Machine names are two random words, like the platform's. */
export function newMachineName() {
  const adjectives = ['quiet', 'bold', 'misty', 'young', 'polished', 'dawn', 'winter', 'lingering', 'snowy', 'ancient'];
  const nouns = ['sun', 'river', 'pond', 'meadow', 'thunder', 'glade', 'flower', 'sky', 'field', 'wave'];
  const [a, b, c] = randomBytes(3);
  return `${adjectives[a % adjectives.length]}-${nouns[b % nouns.length]}-${1000 + (c % 9000)}`;
}
