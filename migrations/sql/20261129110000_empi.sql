-- The EMPI data model: configs, import jobs, staged rows, persons, their immutable source records, potential
-- matches (match groups) with their scored pairs, and the event log of every identity change.
--
-- It follows the reference's data model (reference-behaviour.md §1) without Django's `main_` prefix (plural
-- names, as the engine's tables), and moves the integrity rules the reference kept in application code into
-- the database, so that no code path (a bug, a retried step, a manual fix in psql) can break them:
-- * a record belongs to exactly one person (a NOT NULL foreign key) and its content hash is unique;
-- * record_count >= 0, and a person is soft-deleted exactly when it has no records;
-- * a scored pair is ordered (l < r) and scored once;
-- * enum-like text columns only take their known values; source fields of a record never change.
-- Foreign keys are checked immediately (the reference defers them to COMMIT, where a violation surfaces far
-- from its cause). They never cascade: nothing here is ever hard-deleted except staging rows.

-- Substring search on names and dates (the reference's `icontains` filters) uses trigram indexes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Users known from the identity provider. Rows are created by user sync and never deleted.
CREATE TABLE users (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created     timestamptz NOT NULL DEFAULT now(),
    updated     timestamptz NOT NULL DEFAULT now(),
    -- The IdP's user id (the JWT `sub`).
    idp_user_id text        NOT NULL UNIQUE,
    email       text,
    -- NULL: known but without access.
    role        text        CHECK (role IN ('admin', 'member'))
);

-- Matching configs: immutable and append-only; each import job points at the one it used.
CREATE TABLE configs (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created                   timestamptz      NOT NULL DEFAULT now(),
    potential_match_threshold double precision NOT NULL
                              CHECK (potential_match_threshold BETWEEN 0 AND 1),
    auto_match_threshold      double precision NOT NULL CHECK (auto_match_threshold BETWEEN 0 AND 1),
    -- The validated settings, defaults filled in.
    splink_settings           jsonb            NOT NULL,
    -- The reference accepts auto < potential, which makes every stored result an auto-match.
    CONSTRAINT configs_auto_gte_potential CHECK (auto_match_threshold >= potential_match_threshold)
);

-- Import and export jobs. An import job is carried out by a durable workflow run, which owns its steps,
-- attempts and errors; the job keeps the EMPI-facing status and the counts of what the run did.
CREATE TABLE jobs (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created              timestamptz NOT NULL DEFAULT now(),
    updated              timestamptz NOT NULL DEFAULT now(),
    config_id            bigint      NOT NULL REFERENCES configs (id),
    job_type             text        NOT NULL DEFAULT 'import-person-records'
                         CHECK (job_type IN ('import-person-records', 'export-potential-matches')),
    -- `s3://bucket/key`, `file://...`, a path, or `upload:<filename>`; for an export, the sink.
    source_uri           text,
    status               text        NOT NULL DEFAULT 'new'
                         CHECK (status IN ('new', 'running', 'succeeded', 'failed', 'cancelled')),
    reason               text,
    -- The run doing the work; NULL only until the run is started. One run serves one job.
    run_id               uuid        UNIQUE REFERENCES workflow_runs (id),
    rows_read            bigint      NOT NULL DEFAULT 0 CHECK (rows_read >= 0),
    records_loaded       bigint      NOT NULL DEFAULT 0 CHECK (records_loaded >= 0),
    duplicates_skipped   bigint      NOT NULL DEFAULT 0 CHECK (duplicates_skipped >= 0),
    pairs_scored         bigint      NOT NULL DEFAULT 0 CHECK (pairs_scored >= 0),
    results_stored       bigint      NOT NULL DEFAULT 0 CHECK (results_stored >= 0),
    records_auto_matched bigint      NOT NULL DEFAULT 0 CHECK (records_auto_matched >= 0),
    potential_matches    bigint      NOT NULL DEFAULT 0 CHECK (potential_matches >= 0)
);

CREATE INDEX jobs_config ON jobs (config_id);
CREATE INDEX jobs_status ON jobs (job_type, status, id);

-- Raw CSV rows of an import job waiting to be loaded; deleted when the job finishes. Values are stored
-- verbatim (an unquoted empty field is NULL, a quoted one the empty string).
CREATE TABLE person_record_staging (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created                timestamptz NOT NULL DEFAULT statement_timestamp(),
    job_id                 bigint      NOT NULL REFERENCES jobs (id),
    -- The row's line in the source file, so that errors and duplicates can name it.
    line_number            bigint      NOT NULL CHECK (line_number >= 1),
    -- Set by the load step: the content hash (see `record_content_hash`) and the row's rank after dedup.
    sha256                 bytea       CHECK (octet_length(sha256) = 32),
    row_number             bigint,
    data_source            text        NOT NULL,
    source_person_id       text        NOT NULL,
    first_name             text,
    last_name              text,
    sex                    text,
    race                   text,
    birth_date             text,
    death_date             text,
    social_security_number text,
    address                text,
    city                   text,
    state                  text,
    zip_code               text,
    county                 text,
    phone                  text,
    -- A resumed stage step must not load a line twice.
    CONSTRAINT person_record_staging_job_line UNIQUE (job_id, line_number)
);

CREATE INDEX person_record_staging_sha256 ON person_record_staging (sha256) WHERE sha256 IS NOT NULL;

-- The enterprise identity. `record_count` is the number of records pointing at the person; a person is
-- soft-deleted exactly when it has none (it may be revived by a manual match).
CREATE TABLE persons (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The public id (`p_<uuid>`), a v4 uuid.
    uuid         uuid        NOT NULL UNIQUE,
    created      timestamptz NOT NULL,
    updated      timestamptz NOT NULL,
    -- The job that created it; NULL for a person created by a manual match.
    job_id       bigint      REFERENCES jobs (id),
    -- Optimistic concurrency: +1 on every change.
    version      bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    deleted      timestamptz,
    record_count bigint      NOT NULL,
    CONSTRAINT persons_record_count_gte_zero CHECK (record_count >= 0),
    CONSTRAINT persons_deleted_iff_empty CHECK ((deleted IS NOT NULL) = (record_count = 0))
);

CREATE INDEX persons_job ON persons (job_id);
-- Person id filters match a prefix of the public uuid.
CREATE INDEX persons_uuid_prefix ON persons ((uuid::text) text_pattern_ops);
CREATE INDEX persons_active ON persons (id) WHERE deleted IS NULL;

-- Immutable source records. Only person_id, person_updated and matched_or_reviewed ever change.
CREATE TABLE person_records (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The time of the job's `new-ids` event.
    created                timestamptz NOT NULL,
    job_id                 bigint      NOT NULL REFERENCES jobs (id),
    -- Current membership: a record belongs to exactly one person.
    person_id              bigint      NOT NULL REFERENCES persons (id),
    -- Last time person_id changed (or load time).
    person_updated         timestamptz NOT NULL,
    matched_or_reviewed    timestamptz,
    -- The unambiguous content hash of the 15 fields (`record_content_hash`): re-importing a row adds nothing.
    sha256                 bytea       NOT NULL CHECK (octet_length(sha256) = 32),
    data_source            text        NOT NULL,
    source_person_id       text        NOT NULL,
    first_name             text,
    last_name              text,
    sex                    text,
    race                   text,
    birth_date             text,
    death_date             text,
    social_security_number text,
    address                text,
    city                   text,
    state                  text,
    zip_code               text,
    county                 text,
    phone                  text,
    CONSTRAINT person_records_sha256_unique UNIQUE (sha256)
);

-- A person's records, in id order (person detail, crosswalks, moves).
CREATE INDEX person_records_person ON person_records (person_id, id);
CREATE INDEX person_records_job ON person_records (job_id);
CREATE INDEX person_records_data_source ON person_records (data_source);
CREATE INDEX person_records_source_person_id ON person_records (source_person_id text_pattern_ops);
CREATE INDEX person_records_first_name_trgm ON person_records USING gin (first_name gin_trgm_ops);
CREATE INDEX person_records_last_name_trgm ON person_records USING gin (last_name gin_trgm_ops);
CREATE INDEX person_records_birth_date_trgm ON person_records USING gin (birth_date gin_trgm_ops);

CREATE FUNCTION person_records_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'person record % is immutable: only person_id, person_updated and matched_or_reviewed change',
        OLD.id
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'person_records_immutable';
END
$$;

-- `UPDATE OF` + `WHEN` keep the trigger off the hot path: moving records between persons never fires it.
CREATE TRIGGER person_records_immutable
    BEFORE UPDATE OF id, created, job_id, sha256, data_source, source_person_id, first_name, last_name, sex,
        race, birth_date, death_date, social_security_number, address, city, state, zip_code, county, phone
    ON person_records
    FOR EACH ROW
    WHEN ((OLD.created, OLD.job_id, OLD.sha256, OLD.data_source, OLD.source_person_id, OLD.first_name,
           OLD.last_name, OLD.sex, OLD.race, OLD.birth_date, OLD.death_date, OLD.social_security_number,
           OLD.address, OLD.city, OLD.state, OLD.zip_code, OLD.county, OLD.phone)
          IS DISTINCT FROM
          (NEW.created, NEW.job_id, NEW.sha256, NEW.data_source, NEW.source_person_id, NEW.first_name,
           NEW.last_name, NEW.sex, NEW.race, NEW.birth_date, NEW.death_date, NEW.social_security_number,
           NEW.address, NEW.city, NEW.state, NEW.zip_code, NEW.county, NEW.phone))
    EXECUTE FUNCTION person_records_immutable();

-- Free-text notes on a record (the comments of a manual match; the reference drops them).
CREATE TABLE person_record_notes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created          timestamptz NOT NULL DEFAULT now(),
    updated          timestamptz NOT NULL DEFAULT now(),
    person_record_id bigint      NOT NULL REFERENCES person_records (id),
    note             text        NOT NULL,
    author_id        bigint      NOT NULL REFERENCES users (id)
);

CREATE INDEX person_record_notes_record ON person_record_notes (person_record_id);
CREATE INDEX person_record_notes_author ON person_record_notes (author_id);

-- Match groups: a connected set of scored pairs. A potential match is a group neither matched nor deleted.
-- A run rebuilds only the groups its new results touch (deleting them, version +1); others keep id and version.
CREATE TABLE match_groups (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The public id is `pm_<id>`; the uuid identifies the group while a run builds it.
    uuid    uuid        NOT NULL UNIQUE,
    created timestamptz NOT NULL,
    updated timestamptz NOT NULL,
    -- Replaced by a later run's regrouping.
    deleted timestamptz,
    job_id  bigint      NOT NULL REFERENCES jobs (id),
    version bigint      NOT NULL DEFAULT 1 CHECK (version >= 1),
    -- Resolved: by a manual match, or at creation when auto-matching left a single person.
    matched timestamptz
);

CREATE INDEX match_groups_job ON match_groups (job_id);
CREATE INDEX match_groups_pending ON match_groups (id) WHERE matched IS NULL AND deleted IS NULL;

-- The ordered log of identity-changing events.
CREATE TABLE match_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created timestamptz NOT NULL,
    -- NULL for a manual match.
    job_id  bigint      REFERENCES jobs (id),
    type    text        NOT NULL
            CHECK (type IN ('new-ids', 'auto-matches', 'manual-match', 'person-split'))
);

CREATE INDEX match_events_job ON match_events (job_id);
CREATE INDEX match_events_created ON match_events (created, type);

-- Scored record pairs above the potential-match threshold (the reference's SplinkResult; public `prre_<id>`).
CREATE TABLE prediction_results (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created             timestamptz      NOT NULL,
    -- The job whose run scored the pair.
    job_id              bigint           NOT NULL REFERENCES jobs (id),
    -- The group it currently belongs to (re-pointed when regrouped), and since when.
    match_group_id      bigint           NOT NULL REFERENCES match_groups (id),
    match_group_updated timestamptz      NOT NULL,
    match_weight        double precision NOT NULL,
    match_probability   double precision NOT NULL CHECK (match_probability BETWEEN 0 AND 1),
    person_record_l_id  bigint           NOT NULL REFERENCES person_records (id),
    person_record_r_id  bigint           NOT NULL REFERENCES person_records (id),
    -- Explanation: match_key, bf_*, tf_* and bf_tf_adj_* values.
    data                jsonb            NOT NULL,
    CONSTRAINT prediction_results_ordered_pair CHECK (person_record_l_id < person_record_r_id),
    -- A pair is scored once (new records against all records); a retried step cannot store it twice.
    CONSTRAINT prediction_results_pair_unique UNIQUE (person_record_l_id, person_record_r_id)
);

CREATE INDEX prediction_results_r ON prediction_results (person_record_r_id);
CREATE INDEX prediction_results_job ON prediction_results (job_id);
-- A group's results, best first (potential-match detail and export).
CREATE INDEX prediction_results_group ON prediction_results
    (match_group_id, match_probability DESC, person_record_l_id, person_record_r_id);

-- Record moves and reviews, per event.
CREATE TABLE person_actions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    match_event_id   bigint NOT NULL REFERENCES match_events (id),
    -- The group involved; NULL for `new-ids`.
    match_group_id   bigint REFERENCES match_groups (id),
    person_id        bigint NOT NULL REFERENCES persons (id),
    person_record_id bigint NOT NULL REFERENCES person_records (id),
    type             text   NOT NULL CHECK (type IN ('add-record', 'remove-record', 'review')),
    -- Set for manual matches.
    performed_by_id  bigint REFERENCES users (id)
);

CREATE INDEX person_actions_event ON person_actions (match_event_id, person_id, person_record_id, type);
CREATE INDEX person_actions_group ON person_actions (match_group_id) WHERE match_group_id IS NOT NULL;
CREATE INDEX person_actions_person ON person_actions (person_id);
CREATE INDEX person_actions_record ON person_actions (person_record_id);
CREATE INDEX person_actions_user ON person_actions (performed_by_id) WHERE performed_by_id IS NOT NULL;

-- Group changes, per event.
CREATE TABLE match_group_actions (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    match_event_id       bigint NOT NULL REFERENCES match_events (id),
    match_group_id       bigint REFERENCES match_groups (id),
    prediction_result_id bigint REFERENCES prediction_results (id),
    type                 text   NOT NULL
                         CHECK (type IN ('add-result', 'remove-result', 'update-person', 'match')),
    performed_by_id      bigint REFERENCES users (id),
    CONSTRAINT match_group_actions_result_present
        CHECK (type NOT IN ('add-result', 'remove-result') OR prediction_result_id IS NOT NULL)
);

CREATE INDEX match_group_actions_event ON match_group_actions (match_event_id);
CREATE INDEX match_group_actions_group ON match_group_actions (match_group_id);
CREATE INDEX match_group_actions_result ON match_group_actions (prediction_result_id)
    WHERE prediction_result_id IS NOT NULL;
CREATE INDEX match_group_actions_user ON match_group_actions (performed_by_id) WHERE performed_by_id IS NOT NULL;

-- The content hash encodes text as UTF-8 bytes; in a UTF-8 database convert_to(.., 'UTF8') is a plain copy,
-- which is what makes the hash functions below immutable.
DO $$
BEGIN
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RAISE EXCEPTION 'idem needs a UTF8 database, not %', current_setting('server_encoding');
    END IF;
END
$$;

-- One field of the content hash: 0x00 for NULL, else 0x01, the UTF-8 length (8 bytes, big-endian), the bytes.
CREATE FUNCTION record_hash_field(value text) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN value IS NULL THEN '\x00'::bytea
    ELSE '\x01'::bytea || int8send(octet_length(convert_to(value, 'UTF8'))::bigint) || convert_to(value, 'UTF8')
END;

-- The content hash of a record, identical to `idem_empi::content_hash`: SHA-256 over a version byte (1), then
-- per field in column order either 0x00 (NULL) or 0x01, its UTF-8 length as 8 bytes big-endian, and its
-- bytes. Unlike the reference's concat_ws('|', ...) it tells NULL from '' and cannot be fooled by a '|' in
-- a value, so two different rows never share a hash. SQL-language and immutable so that it inlines.
CREATE FUNCTION record_content_hash(
    data_source text, source_person_id text, first_name text, last_name text, sex text, race text,
    birth_date text, death_date text, social_security_number text, address text, city text, state text,
    zip_code text, county text, phone text
) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN sha256(
    '\x01'::bytea
    || record_hash_field(data_source) || record_hash_field(source_person_id)
    || record_hash_field(first_name) || record_hash_field(last_name) || record_hash_field(sex)
    || record_hash_field(race) || record_hash_field(birth_date) || record_hash_field(death_date)
    || record_hash_field(social_security_number) || record_hash_field(address) || record_hash_field(city)
    || record_hash_field(state) || record_hash_field(zip_code) || record_hash_field(county)
    || record_hash_field(phone)
);
