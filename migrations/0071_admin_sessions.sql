-- A browser session is minted from an API token; revoking the token must end its sessions
-- too, so each session row points at the token it was exchanged for.
ALTER TABLE admin_tokens ADD COLUMN parent_token_id bigint REFERENCES admin_tokens(id) ON DELETE CASCADE;
CREATE INDEX admin_tokens_parent_idx ON admin_tokens (parent_token_id) WHERE parent_token_id IS NOT NULL;
CREATE INDEX admin_tokens_user_idx ON admin_tokens (admin_user_id);
