// The session data the memory benchmark stores: the same for both libraries, fresh objects and
// strings for every session (as data parsed from a request or a database row would be), so
// neither store can look smaller by sharing one object between sessions.

export type MemoryLibrary = "express-session" | "tessera";
export type MemoryProfile = "small" | "user";

export const MEMORY_PROFILES: readonly MemoryProfile[] = ["small", "user"];

/**
 * - `small`: `{ views: 1 }`, about 86 bytes of JSON with express-session's default cookie;
 * - `user`: a signed-in user's profile, about 440 bytes of JSON.
 */
export function sessionData(profile: MemoryProfile, i: number): Record<string, unknown> {
  const n = String(i).padStart(6, "0");
  if (profile === "small") return JSON.parse('{"views":1}') as Record<string, unknown>;
  return JSON.parse(
    JSON.stringify({
      views: 1,
      user: {
        id: `u_${n}`,
        name: "Ada Lovelace",
        email: `ada.lovelace.${n}@example.com`,
        roles: ["admin", "editor"],
        locale: "en-GB",
        timezone: "Europe/London",
        avatar: `/avatars/u_${n}.png`,
        preferences: { theme: "dark", newsletter: true, itemsPerPage: 50 },
        lastLoginAt: "2026-11-22T21:55:56.000Z",
      },
      csrfSecret: `Xr3tq9ZkL0bW2mV7yH5nC8dF1g${n}`,
    }),
  ) as Record<string, unknown>;
}
