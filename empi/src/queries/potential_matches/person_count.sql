-- How many persons the results of group $1 reference (the pagination total of the detail's persons).
SELECT count(DISTINCT x.person_id)
FROM prediction_results r
CROSS JOIN LATERAL (VALUES (r.person_record_l_id), (r.person_record_r_id)) AS side (id)
JOIN person_records x ON x.id = side.id
WHERE r.match_group_id = $1
