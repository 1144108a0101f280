import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** 20 characters of base64url: 120 bits, well past the policy's 12 characters and easy to copy. */
export function generateOneTimePassword(): string {
  return randomBytes(15).toString('base64url');
}

const SEAL_VERSION = 'otp1';

/**
 * Seals a one-time password for the idempotency store (AES-256-GCM, key derived from
 * SESSION_SECRET), so that a repeated user creation can answer with the same password as the
 * first, as CONTRACT.md's idempotency demands, while the `idempotency_keys` table (and every
 * backup of it) holds no usable password: the key is not in the database. The answer is purged
 * with its key row after 24 h, and the password only ever works once (the user must change it).
 */
export class OneTimePasswordSeal {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'rampart', 'one-time-password replay', 32));
  }

  seal(password: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
    return [SEAL_VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  /** Null when it cannot be opened: SESSION_SECRET changed since it was sealed, or not a sealed value. */
  open(sealed: string): string | null {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== SEAL_VERSION || iv === undefined || tag === undefined || body === undefined) return null;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}
