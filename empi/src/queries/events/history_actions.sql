-- What moved in the events $2 for the person $1 (internal id): every action of those events on a record the
-- person had an action on in the same event, so a move shows both sides (removed from one person, added to
-- the other). In event order (newest first), then action order.
SELECT a.match_event_id, a.type, p.uuid AS person_id, a.person_record_id, a.match_group_id
FROM person_actions a
JOIN persons p ON p.id = a.person_id
WHERE a.match_event_id = ANY($2)
    AND EXISTS (
        SELECT 1
        FROM person_actions b
        WHERE b.person_id = $1
            AND b.match_event_id = a.match_event_id
            AND b.person_record_id = a.person_record_id
    )
ORDER BY a.match_event_id DESC, a.id
