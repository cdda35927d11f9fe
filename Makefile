# nudge - campaign automation rules engine
#
#   make            build build/nudge
#   make deps       install the Debian packages nudge needs (when missing)
#   make demo       a 10k-member demo workspace, 12 months simulated
#   make test       unit, DSL and end-to-end tests, then again under ASan+UBSan,
#                   valgrind, and a short fuzzing run (make fuzz)
#   make bench      benchmarks (see bench/BENCHMARKS.md)

PKGS     := lua5.4 libevent libcurl libcjson sqlite3 libcrypto expat
DEB_PKGS := build-essential pkg-config liblua5.4-dev libevent-dev \
            libcurl4-openssl-dev libcjson-dev libsqlite3-dev libssl-dev libexpat1-dev tzdata jq valgrind sqlite3 \
            python3-aiosmtpd clang libclang-rt-14-dev wrk libjemalloc-dev

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?=
CFLAGS   += -std=c11 -Wall -Wextra -Werror -g $(OPT) -D_DEFAULT_SOURCE -iquote engine -iquote connectors \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
# The daemon allocates a request's worth of small buffers per event (HTTP
# headers, JSON, sqlite's cells) and frees them on the same loop turn:
# with jemalloc, as redis links it, the daemon took about 30% more events
# a second than with libc's allocator (bench/BENCHMARKS.md). The sanitizer
# builds keep libc's, which ASan replaces; valgrind replaces jemalloc's too.
ALLOC_LIBS ?= $(shell pkg-config --libs jemalloc 2>/dev/null)

B        ?= build
SRCS     := $(filter-out engine/main.c,$(wildcard engine/*.c))
CONNS    := $(wildcard connectors/*.c)
OBJS     := $(SRCS:engine/%.c=$(B)/obj/%.o) $(CONNS:connectors/%.c=$(B)/obj/conn_%.o) $(B)/obj/prelude.o
HDRS     := $(wildcard engine/*.h connectors/*.h)
UNIT     := $(patsubst tests/unit/%.c,$(B)/unit/%,$(wildcard tests/unit/test_*.c))

.PHONY: all deps demo test test-plain test-asan unit e2e valgrind fuzz bench clean

all: $(B)/nudge $(B)/gen $(B)/mockprov

$(B)/obj/%.o: engine/%.c $(HDRS) | $(B)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/obj/conn_%.o: connectors/%.c $(HDRS) | $(B)/obj
	$(CC) $(CFLAGS) -c -o $@ $<

# mock providers for the tests and benchmarks (127.0.0.1 only)
$(B)/mockprov: tests/mock/mockprov.c | $(B)/obj
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# The journey DSL prelude is Lua source compiled into the binary.
$(B)/prelude.c: scripts/prelude.lua | $(B)/obj
	{ echo '/* generated from scripts/prelude.lua */'; \
	  echo 'const char nudge_prelude[] = {'; \
	  od -An -v -tx1 $< | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '0x00};'; } > $@
$(B)/obj/prelude.o: $(B)/prelude.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libnudge.a: $(OBJS)
	ar rcs $@ $^

$(B)/nudge: engine/main.c $(B)/libnudge.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) $(ALLOC_LIBS)

$(B)/bench-audience: bench/audience.c $(B)/libnudge.a
	$(CC) $(CFLAGS) -o $@ $< $(B)/libnudge.a $(LDLIBS)

$(B)/gen: bench/gen.c | $(B)/obj
	$(CC) $(CFLAGS) -o $@ $< -lm

$(B)/unit/%: tests/unit/%.c tests/unit/t.h $(B)/libnudge.a | $(B)/unit
	$(CC) $(CFLAGS) -o $@ $< $(B)/libnudge.a $(LDLIBS)

$(B)/obj $(B)/unit:
	mkdir -p $@

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "all Debian packages present"; fi

unit: $(UNIT)
	@tests/run-unit.sh $(UNIT)

e2e: $(B)/nudge $(B)/gen
	@NUDGE=$(B)/nudge GEN=$(B)/gen tests/run-e2e.sh

valgrind: all
	@tests/run-valgrind.sh

test-plain: all
	@$(MAKE) --no-print-directory unit e2e

test-asan:
	@$(MAKE) --no-print-directory B=build-asan ALLOC_LIBS= \
	    OPT="-O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" all unit e2e

# libFuzzer targets for the event and members CSV parsers and provider callbacks, built with
# clang against an instrumented copy of the engine; FUZZ_SECS per target
FUZZ_SECS ?= 20
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(SRCS) $(CONNS) $(HDRS)
	@$(MAKE) --no-print-directory B=build-fuzz CC=clang \
	    OPT="-O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(FUZZ_SAN)" build-fuzz/libnudge.a
	clang $(CFLAGS) -O1 -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $< build-fuzz/libnudge.a $(LDLIBS)

fuzz: build-fuzz/fuzz_event build-fuzz/fuzz_csv build-fuzz/fuzz_callback
	@FUZZ_SECS=$(FUZZ_SECS) tests/run-fuzz.sh build-fuzz

test: deps
	@tests/run-all.sh

demo: deps all
	@bench/demo.sh $(B)

bench: deps all $(B)/bench-audience
	@bench/run.sh $(B)

# the HTTP event ingest benchmark (bench/ingest.sh, ~2 min): wrk and a
# constant-rate client against nudge run's POST /v1/events, 127.0.0.1 only
$(B)/ingest-client: bench/ingest_client.c | $(B)/obj
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

.PHONY: bench-ingest
bench-ingest: deps all $(B)/ingest-client
	@B=$(B) bench/ingest.sh

clean:
	rm -rf build build-asan build-fuzz
