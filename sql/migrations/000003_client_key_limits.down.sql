DROP FUNCTION IF EXISTS airouter_lease_sync(bigint, text, timestamptz, double precision, text, double precision, double precision, bigint);
DROP TABLE IF EXISTS limit_leases;
DROP TABLE IF EXISTS limit_counters;
ALTER TABLE model_routes DROP CONSTRAINT IF EXISTS model_routes_cached_price_check, DROP COLUMN IF EXISTS cached_input_price;
DROP TRIGGER IF EXISTS client_keys_notify ON client_keys;
CREATE TRIGGER client_keys_notify AFTER INSERT OR DELETE OR UPDATE OF name, token_sha256, enabled ON client_keys
    FOR EACH STATEMENT EXECUTE FUNCTION airouter_notify_config();
ALTER TABLE client_keys
    DROP CONSTRAINT IF EXISTS client_keys_budget_period_check,
    DROP CONSTRAINT IF EXISTS client_keys_rpm_check,
    DROP CONSTRAINT IF EXISTS client_keys_tpm_check,
    DROP CONSTRAINT IF EXISTS client_keys_budget_check,
    DROP COLUMN IF EXISTS allow, DROP COLUMN IF EXISTS rpm, DROP COLUMN IF EXISTS tpm,
    DROP COLUMN IF EXISTS budget_usd, DROP COLUMN IF EXISTS budget_period, DROP COLUMN IF EXISTS budget_hard_stop,
    DROP COLUMN IF EXISTS expires_at, DROP COLUMN IF EXISTS owner, DROP COLUMN IF EXISTS tags;
