# cfgan: build, test and install. Knobs (override on the command line, e.g. `make MPI=0`):
#   MPI=1       mpicc + Open MPI; MPI=0 builds a serial binary (par_serial.c)
#   MPICC       the MPI compiler wrapper (default mpicc)
#   BLAS_LIBS, SCALAPACK_LIBS, YAML_LIBS (and BLAS_CFLAGS, YAML_CFLAGS): libraries, found with
#               pkg-config where it knows them; set them for a module-based cluster, e.g.
#               make MPICC=mpicc SCALAPACK_LIBS="-L$$SCALAPACK_ROOT/lib -lscalapack" BLAS_LIBS=-lopenblas
#   BUILD=dir   object and binary directory
#   PREFIX=dir  where `make install` puts bin/cfgan
#   SAN=1       -fsanitize=address,undefined (make asan sets it)
#   NP=n        ranks for `make run`
MPI      ?= 1
MPICC    ?= mpicc
BUILD    ?= build
PREFIX   ?= /usr/local
SAN      ?= 0
NP       ?= 2
OPTFLAGS ?= -O2
pkg = $(shell pkg-config $(1) $(2) 2>/dev/null)
BLAS_CFLAGS    ?= $(call pkg,--cflags,openblas)
BLAS_LIBS      ?= $(or $(call pkg,--libs,openblas),-lopenblas)
YAML_CFLAGS    ?= $(call pkg,--cflags,yaml-0.1)
YAML_LIBS      ?= $(or $(call pkg,--libs,yaml-0.1),-lyaml)
SCALAPACK_LIBS ?= $(or $(call pkg,--libs,scalapack-openmpi),-lscalapack-openmpi)
# expanded once here: otherwise pkg-config runs again for every compile and link line
BLAS_CFLAGS := $(BLAS_CFLAGS)
BLAS_LIBS := $(BLAS_LIBS)
YAML_CFLAGS := $(YAML_CFLAGS)
YAML_LIBS := $(YAML_LIBS)
SCALAPACK_LIBS := $(SCALAPACK_LIBS)

ifeq ($(MPI),1)
  CC := $(MPICC)
  PAR_SRC := src/par.c
  MPI_LIBS := $(SCALAPACK_LIBS)
else
  CC := gcc
  PAR_SRC := src/par_serial.c
  CPPFLAGS += -DCFGAN_SERIAL
endif

# -fno-math-errno lets sqrtf vectorise; it keeps IEEE semantics (unlike -ffast-math, never used here)
CFLAGS   ?= -std=c11 -Wall -Wextra -Wshadow $(OPTFLAGS) -fno-math-errno -g
CPPFLAGS += -Iinclude -D_GNU_SOURCE -MMD -MP $(BLAS_CFLAGS) $(YAML_CFLAGS)
LDLIBS   += $(MPI_LIBS) $(BLAS_LIBS) $(YAML_LIBS) -lm
ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif
GIT_HASH := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

LIB_SRC  := $(filter-out src/main.c src/par.c src/par_serial.c,$(wildcard src/*.c)) $(PAR_SRC)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/main.o
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BIN      := $(BUILD)/cfgan

.PHONY: all deps run test test-only asan install clean bench help fuzz fuzz-build test-slurm
all: $(BIN) $(TEST_BIN)

help:
	@echo "make [all]     build $(BIN) and the unit tests"
	@echo "make deps      install the Debian packages building and running need (no-op when present)"
	@echo "make run       deps + build + train the synthetic demo on $(NP) ranks and print metrics"
	@echo "make test      deps (and what the tests need) + build + the whole test suite"
	@echo "make test-only the test suite on what is built (no package installs: clusters without root)"
	@echo "make asan      the test suite under -fsanitize=address,undefined (in build-asan/)"
	@echo "make bench     speed and memory benchmark (tools/bench.py; needs CFGAN_DATA for the real workloads)"
	@echo "make fuzz      libFuzzer on the config, data and checkpoint readers and on evaluate's and"
	@echo "               recommend's input files (FUZZ_SECONDS=60 each; make test runs them about 2 s each)"
	@echo "make test-slurm  jobs/*.sbatch on a throwaway single-node SLURM cluster (installs slurm-wlm, munge)"
	@echo "make install   copy cfgan to $(PREFIX)/bin"
	@echo "make clean     remove build directories"

deps:
	@bash tools/install-deps.sh build

$(BIN): $(LIB_OBJ) $(MAIN_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# version.o records the commit; rebuild it when HEAD moves
$(BUILD)/obj/version.o: CPPFLAGS += -DCFGAN_GIT=\"$(GIT_HASH)\"
$(BUILD)/obj/version.o: $(BUILD)/git-hash
$(BUILD)/git-hash: FORCE | $(BUILD)/obj
	@echo $(GIT_HASH) | cmp -s - $@ || echo $(GIT_HASH) > $@
.PHONY: FORCE
$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/%.c $(LIB_OBJ) | $(BUILD)/tests
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS)

$(BUILD)/obj $(BUILD)/tests:
	mkdir -p $@

run: deps
	@$(MAKE) --no-print-directory all
	@bash tools/run-demo.sh $(BIN) $(NP)

test: deps
	@bash tools/install-deps.sh test
	@$(MAKE) --no-print-directory all
	@bash tests/run.sh $(BUILD)

# a throwaway single-node SLURM cluster: jobs/*.sbatch submitted, preempted, requeued, resumed
test-slurm: deps
	@bash tools/install-deps.sh test
	@$(MAKE) --no-print-directory all
	@bash tests/slurm/test-slurm.sh

test-only: all
	@bash tests/run.sh $(BUILD)

bench: deps
	@bash tools/install-deps.sh bench
	@$(MAKE) --no-print-directory all
	@/usr/bin/python3 tools/bench.py

# libFuzzer targets (clang), FUZZ_SECONDS each (tests/fuzz/fuzz_*.c): the config reader, the data
# pipeline, the checkpoint reader, and `cfgan evaluate` / `cfgan recommend` on fuzzed input files.
# The library is compiled once into $(FUZZ_BUILD)/obj (serial build, ASan + UBSan, coverage) and
# linked into each target. `make test` runs them briefly (tests/cli/fuzz.sh); `make fuzz` for long.
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_TARGETS := config data ckpt evaluate recommend
FUZZ_SRC     := $(filter-out src/main.c src/par.c,$(wildcard src/*.c))
FUZZ_OBJ     := $(FUZZ_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_FLAGS   := -std=c11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -Iinclude -D_GNU_SOURCE \
                -DCFGAN_SERIAL $(BLAS_CFLAGS) $(YAML_CFLAGS)
FUZZ_LIBS    := $(BLAS_LIBS) $(YAML_LIBS) -lm
fuzz: deps
	@bash tools/install-deps.sh test
	@$(MAKE) --no-print-directory fuzz-build
	@bash tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-build: $(FUZZ_BIN)
$(FUZZ_BUILD)/obj/%.o: src/%.c | $(FUZZ_BUILD)/obj
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_OBJ)
	clang $(FUZZ_FLAGS) -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_OBJ) $(FUZZ_LIBS)
$(FUZZ_BUILD)/obj:
	mkdir -p $@

asan: deps
	@bash tools/install-deps.sh test
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPTFLAGS=-O1 all
	@CFGAN_SANITIZED=1 bash tests/run.sh build-asan

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cfgan

clean:
	rm -rf build build-asan build-serial build-fuzz

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d $(FUZZ_BUILD)/obj/*.d $(FUZZ_BUILD)/*.d)
