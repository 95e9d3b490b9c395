/*
 * reading: the value, the text payload and the SenML CBOR pack of one sensor reading, byte
 * for byte as the Python node apps make them (nodes/common/reading.py), so the sinks and the
 * analysis read C nodes unchanged.
 *
 * What it is: pure functions, no I/O, no Contiki API (the host test driver links them too).
 * What it is not: a CBOR library (only the pack of one reading is encoded).
 *
 * Fixed point: a value is an int in tenths (22.5 -> 225), a time is milliseconds since
 * 1970-01-01 (uint64_t, < 2^53). No float printf is needed; the CBOR floats are built with
 * IEEE 754 double arithmetic (soft-float on boards), as Python's float() builds them.
 */
#ifndef READING_H_
#define READING_H_

#include <stddef.h>
#include <stdint.h>

/* nodes/common/reading.py reading_value, the one both apps use:
 * 20 + ((seq*37 + seed*11 + offset) % 100) / 10, in tenths */
int reading_value(const char *name, const char *sensor, uint32_t seq, int32_t seed);

/* "22.5" for 225 (Python's repr of the float and "%.1f" agree on these). Returns the length
 * written without the NUL, or -1 when it does not fit. */
int reading_tenths_text(char *buf, size_t size, int tenths);

/* Python's repr(t_ms / 1000): "1764836439.123", "1764836439.1", "1764836439.0". */
int reading_seconds_repr(char *buf, size_t size, uint64_t t_ms);

/* Python's "%.3f" % (t_ms / 1000): always three decimals. */
int reading_seconds_fixed3(char *buf, size_t size, uint64_t t_ms);

/* nodes/common/reading.py text: "seq=%d t=%.3f v=%.1f". */
int reading_text(char *buf, size_t size, uint32_t seq, uint64_t t_ms, int tenths);

/* nodes/common/reading.py senml_cbor of one sensor (RFC 8428 §6): the CBOR pack
 * [{-2: "<name>/", -3: t, 0: sensor, 1: unit (if known), 2: value}, {0: "seq", 2: seq}].
 * Returns the length, or -1 when it does not fit in `size`. */
int reading_senml_cbor(uint8_t *buf, size_t size, const char *name, const char *sensor,
                       uint32_t seq, uint64_t t_ms, int tenths);

/* reading.py senml_json (RFC 8428 §5): the JSON pack of `count` sensors' values (tenths)
 * [{"bn":"<name>/","bt":<t, 3 decimals>,"n":..,"u":..,"v":<1 decimal>},..,{"n":"seq","v":seq}].
 * Returns the length without the NUL, or -1 when it does not fit in `size`. */
int reading_senml_json(char *buf, size_t size, const char *name, const char *const *sensors,
                       const int *tenths, int count, uint32_t seq, uint64_t t_ms);

/* RFC 8428 §12.1 unit of a sensor as reading.py UNITS names it, or NULL. */
const char *reading_senml_unit(const char *sensor);

#endif /* READING_H_ */
