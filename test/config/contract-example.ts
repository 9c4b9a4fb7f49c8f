/**
 * The configuration example of contract.md section 2, verbatim for the keys implemented so far
 * (level sensors come with a later issue): it must always validate. Left out: `mqtt.password_file`
 * and `ca_file` name files that must exist (test/config/mqtt-config.test.ts covers them), and the
 * contract's `ca_file` next to an `mqtt://` url is refused (TLS material needs mqtts:// or wss://).
 */
export const CONTRACT_EXAMPLE = `station:
  id: st-001                  # required; ^[a-z0-9][a-z0-9_-]{0,63}$; appears in MQTT topics
storage:
  path: /var/lib/smartbin/smartbin.db   # SQLite database, created if missing
  retention_days: 7           # published events are kept this long for replay
  max_size_mb: 512            # size budget of the database and its WAL: storage_nearly_full at 90 %, no new sessions at 100 %
  min_free_mb: 64             # free-space floor of the file system: storage_nearly_full below twice it, no new sessions below it
mqtt:
  url: mqtt://127.0.0.1:1883  # required; mqtt:// mqtts:// ws:// wss://
  topic_prefix: smartbin
  protocol_version: 5         # 5 or 4 (MQTT 3.1.1; the embedded demo broker speaks only 4)
  username: st-001            # optional
  tls_insecure: false         # true skips server certificate checks: logged at warn at every connect
  session_expiry_s: 3600      # MQTT 5: how long the broker keeps the command subscription while away
  reconnect_max_s: 60         # cap of the reconnect backoff
telemetry:
  interval_s: 60              # P/S/telemetry period
scales:
  - id: scale-1               # ids are unique within their list
    port: /dev/ttyUSB0        # required; prefer /dev/serial/by-id/... in the field
    baud_rate: 9600
    protocol: yaohua-a9       # required; see section 5
    unit: kg                  # g | kg | lb; used only by protocols whose frames carry no unit
    stable_window_ms: 1000    # stable when the samples of the last window (at least 3 of them)
    stable_tolerance_g: 20    #   span at most this, and the indicator does not say "unstable"
    change_threshold_g: 40    # stable values closer than this to the last accepted one are noise
    silence_timeout_s: 5      # a streaming indicator silent this long is offline
    capacity_g: 60000         # optional, no default (example value): the indicator's capacity; a reading above it is no valid weight
readers:
  - id: reader-1
    port: /dev/ttyUSB1        # required
    baud_rate: 9600
    protocol: em4100-ascii    # required; see section 5
    repeat_gap_ms: 500        # frames of the same id closer than this are one presentation
    min_reads: 2              # identical frames (within repeat_gap_ms) before a tag counts; default 2 for em4100-ascii, 1 for ascii-line
    no_valid_frames_s: 30     # see "no valid frames" (section 4)
bins:
  - id: kitchen
    category: food_waste      # required; slug; standard: food_waste, recyclable, hazardous, residual
    scale: scale-1            # required; a scale serves one bin
    max_net_g: 50000          # a deposit above this is implausible: recorded, 0 points, alarm; default 50000, or the scale's capacity_g if lower
points:
  rules_version: "2026-11"    # required when categories are given
  categories:
    food_waste: { points_per_kg: 2, min_net_g: 0 }   # an example rule; min_net_g defaults to 0
session:
  idle_close_s: 5
  first_deposit_timeout_s: 30
  max_session_s: 300
  recover_timeout_s: 60       # after a restart, how long a recovered session waits for its scales
`;

/** The smallest valid config: only the required keys. */
export const MINIMAL = `station:
  id: st-001
mqtt:
  url: mqtt://127.0.0.1:1883
`;
