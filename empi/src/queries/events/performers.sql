-- Who performed each of the events $1: the user recorded on the event's group actions or, for events
-- without one (a split), on its person actions. Events of a run have no performer and are skipped.
SELECT e.id AS event_id, u.id AS user_id, u.email
FROM match_events e
CROSS JOIN LATERAL (
    SELECT coalesce(
        (SELECT ga.performed_by_id FROM match_group_actions ga
         WHERE ga.match_event_id = e.id AND ga.performed_by_id IS NOT NULL LIMIT 1),
        (SELECT a.performed_by_id FROM person_actions a
         WHERE a.match_event_id = e.id AND a.performed_by_id IS NOT NULL LIMIT 1)
    ) AS user_id
) AS performer
JOIN users u ON u.id = performer.user_id
WHERE e.id = ANY($1) AND e.job_id IS NULL
