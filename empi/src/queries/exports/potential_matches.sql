-- One row per scored pair of a pending potential match, with public ids (the reference writes its internal
-- `Person_<bigint>` ids), by group then probability (highest first): the order of prediction_results_group.
SELECT 'pm_' || g.id::text AS group_id,
       'p_' || pl.uuid::text AS person1_id, l.first_name, l.last_name, l.birth_date, l.data_source,
       l.source_person_id,
       'p_' || prr.uuid::text AS person2_id, r.first_name, r.last_name, r.birth_date, r.data_source,
       r.source_person_id,
       res.match_probability::text AS match_probability
FROM match_groups g
JOIN prediction_results res ON res.match_group_id = g.id
JOIN person_records l ON l.id = res.person_record_l_id
JOIN persons pl ON pl.id = l.person_id
JOIN person_records r ON r.id = res.person_record_r_id
JOIN persons prr ON prr.id = r.person_id
WHERE g.matched IS NULL AND g.deleted IS NULL
ORDER BY g.id, res.match_probability DESC, res.person_record_l_id, res.person_record_r_id
