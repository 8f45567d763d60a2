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
# SwiftPM's build folder (a separate one lets a test install while another build holds .build).
SCRATCH ?= .build
# The Swift runtime linked in: speakctl runs once per announcement and starts faster without loading it.
SWIFT_BUILD = swift build -c release --static-swift-stdlib --scratch-path $(SCRATCH)
BUILT = $(shell $(SWIFT_BUILD) --show-bin-path)
MANUALS = $(SCRATCH)/man
COMPLETIONS = $(SCRATCH)/completions
PROGRAMS = speakd speakctl

.PHONY: all build man completions install uninstall clean

all: build man completions

build:
	$(SWIFT_BUILD) --product speakd
	$(SWIFT_BUILD) --product speakctl

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
	install -m 0644 docs/config.toml.example $(DESTDIR)$(DOCDIR)/config.toml.example
	install -m 0644 README.md docs/protocol.md docs/architecture.md $(DESTDIR)$(DOCDIR)/

uninstall:
	for program in $(PROGRAMS); do \
	  rm -f $(DESTDIR)$(BINDIR)/$$program $(DESTDIR)$(MANDIR)/$$program.1 $(DESTDIR)$(BASHDIR)/$$program \
	        $(DESTDIR)$(ZSHDIR)/_$$program $(DESTDIR)$(FISHDIR)/$$program.fish; \
	done
	rm -f $(DESTDIR)$(UNITDIR_USER)/speakd.socket $(DESTDIR)$(UNITDIR_USER)/speakd.service \
	      $(DESTDIR)$(UNITDIR_SYSTEM)/speakd.socket $(DESTDIR)$(UNITDIR_SYSTEM)/speakd.service \
	      $(DESTDIR)$(SYSUSERSDIR)/speakd.conf
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	swift package clean
