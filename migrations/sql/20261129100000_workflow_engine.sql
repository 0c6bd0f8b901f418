-- Durable workflow state owned by idem's engine. apalis's tables (schema `apalis`) are only the queue:
-- these tables are the source of truth for what a run is, which step it is on and what each step returned,
-- so that a duplicate or stale queue delivery can always be recognised and ignored.

CREATE TABLE workflow_runs (
    id               uuid PRIMARY KEY,
    workflow         text        NOT NULL,
    workflow_version integer     NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    input            jsonb       NOT NULL,
    output           jsonb,
    error            text,
    -- A caller-chosen key; starting a run with a key that exists returns the existing run.
    idempotency_key  text UNIQUE,
    -- W3C traceparent of the run span, so that every step attempt (in any process, at any time) joins the
    -- trace of the request that started the run.
    traceparent      text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX workflow_runs_listing ON workflow_runs (workflow, status, created_at DESC, id);
CREATE INDEX workflow_runs_created ON workflow_runs (created_at DESC, id);

CREATE TABLE workflow_steps (
    run_id           uuid        NOT NULL REFERENCES workflow_runs (id),
    idx              integer     NOT NULL CHECK (idx >= 0),
    name             text        NOT NULL,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- Attempts started so far (cumulative over resumes). A queue task names the attempt it is for, so a
    -- delivery for any other attempt is stale and is acknowledged without running anything.
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- attempts at the last resume: the retry budget counts attempts since then.
    attempt_base     integer     NOT NULL DEFAULT 0 CHECK (attempt_base >= 0),
    last_error       text,
    next_attempt_at  timestamptz,
    -- The lease of the worker running the current attempt; renewed by its heartbeat. An expired lease means
    -- the worker is gone, and any worker's reaper queues the next attempt.
    lease_owner      text,
    lease_expires_at timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    output           jsonb,
    progress_done    bigint,
    progress_total   bigint,
    progress_label   text,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, idx)
);

CREATE INDEX workflow_steps_running_leases ON workflow_steps (lease_expires_at) WHERE status = 'running';
CREATE INDEX workflow_steps_due ON workflow_steps (next_attempt_at) WHERE status = 'queued';

CREATE TABLE workflow_step_attempts (
    run_id      uuid        NOT NULL,
    idx         integer     NOT NULL,
    attempt     integer     NOT NULL CHECK (attempt >= 1),
    worker      text        NOT NULL,
    status      text        NOT NULL DEFAULT 'running'
                CHECK (status IN ('running', 'succeeded', 'retrying', 'failed', 'lost', 'cancelled')),
    error       text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (run_id, idx, attempt),
    FOREIGN KEY (run_id, idx) REFERENCES workflow_steps (run_id, idx)
);
