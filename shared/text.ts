// Text PostgreSQL (text and jsonb), file paths and S3 keys can all hold: no NUL, and no
// unpaired UTF-16 surrogate (jsonb refuses its escape, URL encoding throws on it). Input that
// breaks this fails at the database with an error that looks transient, so it is retried
// forever: check it at the edge, or make it storable, instead.

export const isStorableText = (s: string): boolean => !s.includes('\0') && s.isWellFormed();

/** For schemas: `z.string().refine(isStorableText, STORABLE_TEXT)`. */
export const STORABLE_TEXT = 'must not contain NUL characters or unpaired surrogates';

/** The storable version of s: NUL and unpaired surrogates become U+FFFD. */
export const toStorableText = (s: string): string => (isStorableText(s) ? s : s.replaceAll('\0', '\uFFFD').toWellFormed());
