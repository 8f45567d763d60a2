# Builds and installs speakd. Honors PREFIX (default /usr/local) and DESTDIR (staging root for packagers).
#   make && sudo make install      then: systemctl --user enable --now speakd.socket   (desktop)
#                                   or:   sudo systemctl enable --now speakd.socket     (headless box)
#   sudo make uninstall
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
UNITDIR_USER = $(PREFIX)/lib/systemd/user
UNITDIR_SYSTEM = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d
MANDIR = $(PREFIX)/share/man/man1
DOCDIR = $(PREFIX)/share/doc/speakd
BASHDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR = $(PREFIX)/share/zsh/site-functions
FISHDIR = $(PREFIX)/share/fish/vendor_completions.d
# speech-dispatcher looks for output modules in its own module directory and for their configuration under /etc, not
# under PREFIX: with PREFIX=/usr these are Debian's (/usr/lib/speech-dispatcher-modules, /etc/speech-dispatcher/modules).
# Elsewhere, name the module by its absolute path in speechd.conf's AddModule line (README, "Use with Orca").
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SPEECHD_MODULEDIR ?= $(PREFIX)/lib/speech-dispatcher-modules
SPEECHD_CONFDIR ?= $(SYSCONFDIR)/speech-dispatcher/modules
# SwiftPM's build folder (a separate one lets a test install while another build holds .build).
SCRATCH ?= .build
# The Swift runtime linked in: speakctl runs once per announcement and starts faster without loading it.
SWIFT_BUILD = swift build -c release --static-swift-stdlib --scratch-path $(SCRATCH)
BUILT = $(shell $(SWIFT_BUILD) --show-bin-path)
MANUALS = $(SCRATCH)/man
COMPLETIONS = $(SCRATCH)/completions
PROGRAMS = speakd speakctl
# The speech-dispatcher output module (no man page or completions: speech-dispatcher runs it, not people).
MODULE = sd_speakd

.PHONY: all build man completions install uninstall clean

all: build man completions

build:
	$(SWIFT_BUILD) --product speakd
	$(SWIFT_BUILD) --product speakctl
	$(SWIFT_BUILD) --product $(MODULE)

# Man pages and completions come from the programs' own argument definitions (swift-argument-parser).
man: build
	$(SWIFT_BUILD) --product generate-manual
	mkdir -p $(MANUALS)
	for program in $(PROGRAMS); do \
	  $(BUILT)/generate-manual $(BUILT)/$$program --output-directory $(MANUALS) || exit 1; \
	done

completions: build
	mkdir -p $(COMPLETIONS)
	for program in $(PROGRAMS); do \
	  $(BUILT)/$$program --generate-completion-script bash > $(COMPLETIONS)/$$program.bash && \
	  $(BUILT)/$$program --generate-completion-script zsh > $(COMPLETIONS)/_$$program && \
	  $(BUILT)/$$program --generate-completion-script fish > $(COMPLETIONS)/$$program.fish || exit 1; \
	done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR_USER) $(DESTDIR)$(UNITDIR_SYSTEM) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(BASHDIR) $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR)
	for program in $(PROGRAMS); do \
	  install -m 0755 $(BUILT)/$$program $(DESTDIR)$(BINDIR)/$$program && \
	  install -m 0644 $(MANUALS)/$$program.1 $(DESTDIR)$(MANDIR)/$$program.1 && \
	  install -m 0644 $(COMPLETIONS)/$$program.bash $(DESTDIR)$(BASHDIR)/$$program && \
	  install -m 0644 $(COMPLETIONS)/_$$program $(DESTDIR)$(ZSHDIR)/_$$program && \
	  install -m 0644 $(COMPLETIONS)/$$program.fish $(DESTDIR)$(FISHDIR)/$$program.fish || exit 1; \
	done
	for scope in user system; do \
	  for unit in speakd.socket speakd.service; do \
	    target=$(DESTDIR)$(PREFIX)/lib/systemd/$$scope/$$unit; \
	    sed 's|@bindir@|$(BINDIR)|g' systemd/$$scope/$$unit > $$target && chmod 0644 $$target || exit 1; \
	  done; \
	done
	install -m 0644 systemd/system/speakd.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/speakd.conf
	install -d $(DESTDIR)$(SPEECHD_MODULEDIR) $(DESTDIR)$(SPEECHD_CONFDIR)
	install -m 0755 $(BUILT)/$(MODULE) $(DESTDIR)$(SPEECHD_MODULEDIR)/$(MODULE)
	install -m 0644 speech-dispatcher/speakd.conf $(DESTDIR)$(SPEECHD_CONFDIR)/speakd.conf
	install -m 0644 docs/config.toml.example $(DESTDIR)$(DOCDIR)/config.toml.example
	install -m 0644 README.md docs/protocol.md docs/architecture.md docs/configuration.md $(DESTDIR)$(DOCDIR)/

uninstall:
	for program in $(PROGRAMS); do \
	  rm -f $(DESTDIR)$(BINDIR)/$$program $(DESTDIR)$(MANDIR)/$$program.1 $(DESTDIR)$(BASHDIR)/$$program \
	        $(DESTDIR)$(ZSHDIR)/_$$program $(DESTDIR)$(FISHDIR)/$$program.fish; \
	done
	rm -f $(DESTDIR)$(UNITDIR_USER)/speakd.socket $(DESTDIR)$(UNITDIR_USER)/speakd.service \
	      $(DESTDIR)$(UNITDIR_SYSTEM)/speakd.socket $(DESTDIR)$(UNITDIR_SYSTEM)/speakd.service \
	      $(DESTDIR)$(SYSUSERSDIR)/speakd.conf
	rm -f $(DESTDIR)$(SPEECHD_MODULEDIR)/$(MODULE) $(DESTDIR)$(SPEECHD_CONFDIR)/speakd.conf
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	swift package clean
