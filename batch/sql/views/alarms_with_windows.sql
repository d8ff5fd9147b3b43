-- Every alarm state change beside the windows that ended when it was decided (same site and
-- camera; a camera_silent alarm has none). Windows carry their own insufficient_data flag and the
-- stream's 95% interval of their net score.
SELECT
  a.site_id,
  a.camera_id,
  a.event_time AS alarm_time,
  a.rule,
  a.state,
  a.value,
  a.threshold,
  a.reason,
  w.window_minutes,
  w.tracks AS window_tracks,
  w.insufficient_data,
  w.mean_valence AS window_mean_valence,
  w.net_score AS window_net_score,
  w.net_score_ci.low AS window_net_low,
  w.net_score_ci.high AS window_net_high
FROM sentiment_alarm AS a
LEFT JOIN sentiment_window AS w
  ON w.site_id = a.site_id
  AND w.camera_id IS NOT DISTINCT FROM a.camera_id
  AND w.event_time = a.event_time
