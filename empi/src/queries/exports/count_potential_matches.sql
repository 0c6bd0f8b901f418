-- The rows a potential-match export writes: the scored pairs of pending potential matches.
SELECT count(*)
FROM prediction_results res
JOIN match_groups g ON g.id = res.match_group_id
WHERE g.matched IS NULL AND g.deleted IS NULL
