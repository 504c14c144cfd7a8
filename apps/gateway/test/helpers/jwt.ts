import { SignJWT } from 'jose'

/** The AUTH_JWT_SECRET of the tests that sign their own tokens. */
export const TEST_JWT_SECRET = 'a-test-secret-that-is-long-enough-0123456789'

/** An HS256 JWT for `sub`, valid five minutes, signed with TEST_JWT_SECRET. */
export function jwtFor(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(TEST_JWT_SECRET))
}
