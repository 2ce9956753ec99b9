-- Each reviewer's latest value per subject and field. Annotations are append-only (a changed
-- mind is a new row), so nothing a reviewer said is lost; this view reads the current state.
SELECT reviewer, subject_kind, subject, field,
       arg_max(value, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%f') || annotation_id) AS value,
       max(created_at) AS created_at,
       count(*) AS revisions
FROM annotations
GROUP BY reviewer, subject_kind, subject, field
