-- Client keys carry limits: a model allowlist, requests and tokens per
-- minute, a budget in USD per period, an expiry and metadata.
ALTER TABLE client_keys
    ADD COLUMN allow            text[]           NOT NULL DEFAULT '{}',
    ADD COLUMN rpm              integer          NOT NULL DEFAULT 0,
    ADD COLUMN tpm              bigint           NOT NULL DEFAULT 0,
    ADD COLUMN budget_usd       double precision NOT NULL DEFAULT 0,
    ADD COLUMN budget_period    text             NOT NULL DEFAULT '',
    ADD COLUMN budget_hard_stop boolean          NOT NULL DEFAULT true,
    ADD COLUMN expires_at       timestamptz,
    ADD COLUMN owner            text             NOT NULL DEFAULT '',
    ADD COLUMN tags             text[]           NOT NULL DEFAULT '{}',
    ADD CONSTRAINT client_keys_rpm_check CHECK (rpm >= 0),
    ADD CONSTRAINT client_keys_tpm_check CHECK (tpm >= 0),
    ADD CONSTRAINT client_keys_budget_check CHECK (budget_usd >= 0),
    ADD CONSTRAINT client_keys_budget_period_check CHECK (budget_period IN ('', 'daily', 'monthly', 'total'));

-- Every replica reloads its keys when a limit changes.
DROP TRIGGER client_keys_notify ON client_keys;
CREATE TRIGGER client_keys_notify AFTER INSERT OR DELETE OR UPDATE OF name, token_sha256, enabled, allow, rpm, tpm,
    budget_usd, budget_period, budget_hard_stop, expires_at, owner, tags ON client_keys
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();

-- Cached prompt tokens (OpenAI cached_tokens, Anthropic cache reads) cost
-- this per million; 0 means the input price.
ALTER TABLE model_routes
    ADD COLUMN cached_input_price double precision NOT NULL DEFAULT 0,
    ADD CONSTRAINT model_routes_cached_price_check CHECK (cached_input_price >= 0);

-- One counter per client key, limit kind (budget, rpm, tpm) and window
-- (the UTC start of the day, month or minute; the epoch for total budgets).
-- reserved is the sum of the replicas' live leases.
CREATE TABLE limit_counters (
    client_key_id bigint           NOT NULL REFERENCES client_keys (id) ON DELETE CASCADE,
    kind          text             NOT NULL,
    window_start  timestamptz      NOT NULL,
    cap           double precision NOT NULL,
    spent         double precision NOT NULL DEFAULT 0,
    reserved      double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (client_key_id, kind, window_start),
    CONSTRAINT limit_counters_kind_check CHECK (kind IN ('budget', 'rpm', 'tpm'))
);

-- The slice of a counter one replica holds. A replica that stops renewing
-- it (it crashed) loses it after expires_at: the next grant on the counter
-- returns it.
CREATE TABLE limit_leases (
    client_key_id bigint           NOT NULL,
    kind          text             NOT NULL,
    window_start  timestamptz      NOT NULL,
    replica       text             NOT NULL,
    amount        double precision NOT NULL,
    expires_at    timestamptz      NOT NULL,
    PRIMARY KEY (client_key_id, kind, window_start, replica),
    FOREIGN KEY (client_key_id, kind, window_start) REFERENCES limit_counters ON DELETE CASCADE
);

-- airouter_lease_sync settles a replica's lease on one counter in one
-- statement: it adds used to spent (out of the replica's slice), then grants
-- up to delta more (delta > 0; never beyond cap) or returns -delta (delta < 0),
-- and renews the lease for ttl_ms. Every change to a counter and its leases
-- happens under the counter's row lock, so concurrent replicas never see a
-- stale sum. Expired leases of other replicas are returned first. It returns
-- {granted, free after the grant, lease held}.
CREATE FUNCTION airouter_lease_sync(p_key bigint, p_kind text, p_window timestamptz, p_cap double precision,
    p_replica text, p_used double precision, p_delta double precision, p_ttl_ms bigint)
    RETURNS double precision[] LANGUAGE plpgsql AS $$
DECLARE
    c       limit_counters%ROWTYPE;
    held    double precision;
    expired double precision;
    granted double precision;
BEGIN
    INSERT INTO limit_counters (client_key_id, kind, window_start, cap)
    VALUES (p_key, p_kind, p_window, p_cap)
    ON CONFLICT (client_key_id, kind, window_start) DO UPDATE SET cap = EXCLUDED.cap
    RETURNING * INTO c; -- the upsert holds the row lock until commit

    WITH gone AS (
        DELETE FROM limit_leases
        WHERE client_key_id = p_key AND kind = p_kind AND window_start = p_window
          AND replica <> p_replica AND expires_at < now()
        RETURNING amount)
    SELECT coalesce(sum(amount), 0) INTO expired FROM gone;

    SELECT amount INTO held FROM limit_leases
    WHERE client_key_id = p_key AND kind = p_kind AND window_start = p_window AND replica = p_replica;
    held := coalesce(held, 0);

    -- used comes out of the slice the replica holds (never more than it).
    p_used := greatest(p_used, 0);
    c.spent := c.spent + p_used;
    c.reserved := greatest(c.reserved - expired - least(p_used, held), 0);
    held := greatest(held - p_used, 0);

    IF p_delta >= 0 THEN
        granted := least(p_delta, greatest(p_cap - c.spent - c.reserved, 0));
    ELSE
        granted := -least(-p_delta, held);
    END IF;
    c.reserved := greatest(c.reserved + granted, 0);
    held := held + granted;

    UPDATE limit_counters SET cap = p_cap, spent = c.spent, reserved = c.reserved
    WHERE client_key_id = p_key AND kind = p_kind AND window_start = p_window;

    IF held > 0 THEN
        INSERT INTO limit_leases (client_key_id, kind, window_start, replica, amount, expires_at)
        VALUES (p_key, p_kind, p_window, p_replica, held, now() + p_ttl_ms * interval '1 millisecond')
        ON CONFLICT (client_key_id, kind, window_start, replica)
        DO UPDATE SET amount = EXCLUDED.amount, expires_at = EXCLUDED.expires_at;
    ELSE
        DELETE FROM limit_leases
        WHERE client_key_id = p_key AND kind = p_kind AND window_start = p_window AND replica = p_replica;
    END IF;
    RETURN ARRAY[granted, greatest(p_cap - c.spent - c.reserved, 0), held];
END;
$$;

CREATE INDEX limit_leases_expiry_idx ON limit_leases (expires_at);
