-- Stored Responses API responses (POST /v1/responses with store: true), so
-- that previous_response_id and GET/DELETE /v1/responses/{id} work on every
-- provider. client_key_id is the owner (0 for keyless setups; not a foreign
-- key, so that revoking a key does not need to touch its responses).
CREATE TABLE responses (
    id                   text        PRIMARY KEY CHECK (id LIKE 'resp\_%'),
    client_key_id        bigint      NOT NULL DEFAULT 0,
    model                text        NOT NULL,
    input                jsonb       NOT NULL, -- the full input items (history expanded)
    response             jsonb       NOT NULL, -- the response object, output items included
    previous_response_id text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz           -- NULL: kept until deleted
);

CREATE INDEX responses_expires_at ON responses (expires_at) WHERE expires_at IS NOT NULL;
