-- The persons of the records that the results of group $1 reference, ordered by uuid text (the reference's
-- order); $2 = LIMIT, $3 = OFFSET (NULL LIMIT: all). A group has few persons, so this is a small sort.
SELECT DISTINCT p.id AS internal_id, p.uuid AS id, p.created, p.version, p.uuid::text AS sort_key
FROM prediction_results r
CROSS JOIN LATERAL (VALUES (r.person_record_l_id), (r.person_record_r_id)) AS side (id)
JOIN person_records x ON x.id = side.id
JOIN persons p ON p.id = x.person_id
WHERE r.match_group_id = $1
ORDER BY sort_key
LIMIT $2 OFFSET $3
