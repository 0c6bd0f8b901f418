-- Pending groups (neither matched nor replaced) holding a result whose record belongs to a touched person.
INSERT INTO regroup_groups (id)
SELECT res.match_group_id
FROM regroup_persons p
JOIN person_records rec ON rec.person_id = p.id
JOIN prediction_results res ON res.person_record_l_id = rec.id
JOIN match_groups g ON g.id = res.match_group_id AND g.matched IS NULL AND g.deleted IS NULL
UNION
SELECT res.match_group_id
FROM regroup_persons p
JOIN person_records rec ON rec.person_id = p.id
JOIN prediction_results res ON res.person_record_r_id = rec.id
JOIN match_groups g ON g.id = res.match_group_id AND g.matched IS NULL AND g.deleted IS NULL
ON CONFLICT DO NOTHING
