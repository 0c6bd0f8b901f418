SELECT s.idx, s.name, s.status, s.attempts, s.last_error, s.started_at, s.finished_at, s.next_attempt_at,
       s.progress_done, s.progress_total, s.progress_label, s.output,
       COALESCE(
           (SELECT jsonb_agg(jsonb_build_object(
                       'attempt', a.attempt, 'worker', a.worker, 'status', a.status, 'error', a.error,
                       'started_at', a.started_at, 'finished_at', a.finished_at)
                   ORDER BY a.attempt)
            FROM workflow_step_attempts a
            WHERE a.run_id = s.run_id AND a.idx = s.idx),
           '[]'::jsonb) AS attempt_list
FROM workflow_steps s
WHERE s.run_id = $1
ORDER BY s.idx
