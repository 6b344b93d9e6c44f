"""The conversation: one card per turn — what was heard, the answer (shown cut if interrupted),
and how the turn went (timings, which voice spoke, fallbacks in plain words)."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

TIER_NAMES = {"xtts": "cloned voice (XTTS)", "piper": "offline voice (Piper)",
              "gtts": "online voice (Google)", "pyttsx3": "system voice (eSpeak)"}


def tier_name(tier: str | None) -> str:
    return TIER_NAMES.get(tier or "", tier or "no voice")


def fallback_text(fallbacks: list[dict]) -> str:
    """'The cloned voice (XTTS) was skipped: …' — one plain sentence per fallback."""
    out = []
    for f in fallbacks:
        reason = str(f.get("reason", "")).strip().rstrip(".")
        out.append(f"The {tier_name(f.get('tier'))} was skipped: {reason}." if reason
                   else f"The {tier_name(f.get('tier'))} was skipped.")
    return " ".join(out)


def timings_text(t: dict) -> str:
    """Seconds from letting go of the key: transcribed, first reply sound, reply finished."""
    tim = t.get("timings", {})
    first = tim.get("first_sound_s") or tim.get("first_audio_s")
    total = tim.get("spoken_s") or tim.get("total_s", 0)
    parts = [f"heard in {tim.get('stt_s', 0):.2f} s",
             f"first sound {first:.2f} s" if first else "no sound",
             f"total {total:.2f} s", f"spoken by the {tier_name(t.get('tier'))}"
             if t.get("tier") else "not spoken"]
    if t.get("underruns"):
        parts.append(f"{t['underruns']} stutter{'s' if t['underruns'] != 1 else ''}")
    return " · ".join(parts)


class TurnCard(QFrame):
    def __init__(self, heard: str | None, parent=None):
        super().__init__(parent)
        self.setObjectName("turnCard")
        self.heard_text = heard or ""
        self.sentences: list[str] = []
        self.cut = False
        self.done = False
        self.played: float | None = None   # fraction of the reply heard, when it was cut
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)
        self.heard = QLabel()
        self.reply = QLabel()
        self.meta = QLabel()
        self.notes = QLabel()
        for label in (self.heard, self.reply, self.meta, self.notes):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        self.heard.setObjectName("turnHeard")
        self.reply.setObjectName("turnReply")
        self.meta.setObjectName("turnMeta")
        self.notes.setObjectName("turnMeta")
        self.meta.hide()
        self.notes.hide()
        if heard is None:
            shown = "<i>(not transcribed)</i>"
        else:
            shown = html.escape(heard) if heard.strip() else "<i>(nothing was heard)</i>"
        self.heard.setText(f"<span style='font-weight:600; color:#8b949e'>YOU</span>&nbsp;&nbsp;{shown}")
        self._render_reply()

    def add_sentence(self, text: str) -> None:
        self.sentences.append(text)
        self._render_reply()

    @property
    def reply_text(self) -> str:
        return " ".join(self.sentences)

    def finish(self, t: dict) -> None:
        self.done = True
        self.cut = bool(t.get("cut"))
        if t.get("reply") and not self.sentences:
            self.sentences = [t["reply"]]
        self.played = t.get("played_fraction") if self.cut else None
        self._render_reply()
        self.meta.setText(html.escape(timings_text(t)))
        self.meta.show()
        falls = fallback_text(t.get("fallbacks", []))
        if falls:
            self.notes.setText(html.escape(falls))
            self.notes.show()

    def fail(self, why: str) -> None:
        self.done = True
        self.notes.setText(f"<span style='color:#e5534b'>{html.escape(why)}</span>")
        self.notes.show()
        self._render_reply()

    def cut_at(self, played_fraction: float) -> None:
        """The reply stopped part-way (barge-in, engine lost): strike what was never heard."""
        self.cut, self.played = True, played_fraction
        self._render_reply()

    def _render_reply(self) -> None:
        played_fraction = self.played
        text = self.reply_text
        head = "<span style='font-weight:600; color:#39c5bb'>KAYTOO</span>&nbsp;&nbsp;"
        if not text:
            self.reply.setText(head + ("<i>…</i>" if not self.done else "<i>(no answer)</i>"))
            return
        if self.cut:
            # The part after the interruption is struck through: it was never heard.
            frac = 0.0 if played_fraction is None else max(0.0, min(1.0, played_fraction))
            at = _word_boundary(text, int(round(len(text) * frac)))
            said, unsaid = text[:at], text[at:]
            self.reply.setText(
                head + html.escape(said)
                + f"<span style='text-decoration:line-through; color:#8b949e'>{html.escape(unsaid)}</span>"
                + " <b style='color:#e5534b'>✂ cut off</b>")
        else:
            self.reply.setText(head + html.escape(text))


def _word_boundary(text: str, at: int) -> int:
    if at <= 0 or at >= len(text):
        return max(0, min(at, len(text)))
    nxt = text.find(" ", at)
    return len(text) if nxt < 0 else nxt


class ConversationView(QScrollArea):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setObjectName("conversationView")
        self.setAccessibleName("Conversation")
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        inner = QWidget()
        inner.setObjectName("conversation")
        self._layout = QVBoxLayout(inner)
        self._layout.setContentsMargins(8, 8, 8, 8)
        self._layout.setSpacing(10)
        self.placeholder = QLabel()
        self.set_hint([], "")
        self.placeholder.setWordWrap(True)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self.placeholder)
        self._layout.addStretch(1)
        self.setWidget(inner)
        self.cards: list[TurnCard] = []
        self.active: TurnCard | None = None   # the turn being shown (a timer's card is not one)
        # Scrolling: at the bottom it stays at the bottom (new cards, growing replies, resizes);
        # scrolled up, the card at the top stays at the top through a resize.
        self._stick = True
        self._anchor: tuple[TurnCard, int] | None = None
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._scrolled)
        bar.rangeChanged.connect(self._range_changed)

    def set_hint(self, voices: list[str], active: str, key: str = "Space") -> None:
        """The empty window's hint: only questions that work here (a voice that exists)."""
        asks = ["“what time is it?”", "“set a timer for two minutes”"]
        other = next((v for v in voices if v.lower() != active.lower()), None)
        asks.append(f"“switch to the {other} voice”" if other else "“what can I ask you?”")
        self.placeholder.setText(f"Hold the button (or {key}) and ask something — "
                                 + ", ".join(asks) + ".")

    @property
    def current(self) -> TurnCard | None:
        """The latest card (a turn's or a timer's)."""
        return self.cards[-1] if self.cards else None

    def begin_turn(self, heard: str | None) -> TurnCard:
        card = self._add(TurnCard(heard))
        self.active = card
        return card

    def add_sentence(self, text: str) -> None:
        card = self.active if self.active is not None else self.begin_turn("")
        card.add_sentence(text)
        self._scroll_to_end()

    def finish_turn(self, t: dict) -> None:
        card = self.active if self.active is not None else self.begin_turn(t.get("heard", ""))
        card.finish(t)
        self.active = None
        self._scroll_to_end()

    def cut_reply(self, played_fraction: float) -> None:
        if self.active is not None:
            self.active.cut_at(played_fraction)

    def fail_turn(self, why: str) -> None:
        card = self.active if self.active is not None else self.begin_turn(None)
        card.fail(why)
        self.active = None
        self._scroll_to_end()

    def announce(self, text: str) -> TurnCard:
        """A line Kaytoo says on its own (a timer going off); a turn in progress keeps its card."""
        card = TurnCard("")
        card.heard.setText("<span style='font-weight:600; color:#8b949e'>TIMER</span>")
        card.add_sentence(text)
        card.done = True
        return self._add(card)

    def _add(self, card: TurnCard) -> TurnCard:
        self.placeholder.hide()
        self._layout.insertWidget(self._layout.count() - 1, card)
        self._fit_column()
        self.cards.append(card)
        self._scroll_to_end()
        return card

    def _scroll_to_end(self) -> None:
        self._stick = True
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())   # and again when the new card's height is known (_range_changed)

    def at_bottom(self) -> bool:
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def top_card(self) -> TurnCard | None:
        """The card at the top of the view."""
        y = self.verticalScrollBar().value()
        return next((c for c in self.cards if c.y() + c.height() > y), None)

    def _scrolled(self, value: int) -> None:
        if self._resizing:
            return
        self._stick = self.at_bottom()
        card = None if self._stick else self.top_card()
        self._anchor = (card, value - card.y()) if card is not None else None

    def _range_changed(self, _low: int, high: int) -> None:
        bar = self.verticalScrollBar()
        if self._stick:
            bar.setValue(high)
        elif self._anchor is not None:
            card, offset = self._anchor
            bar.setValue(card.y() + min(offset, card.height() - 1))

    _resizing = False

    def column_width(self) -> int:
        """Cards are at most this wide: lines of ~90 characters, not 200 on a wide screen."""
        label = self.cards[-1].reply if self.cards else self.placeholder
        label.ensurePolished()
        return label.fontMetrics().averageCharWidth() * 90 + 32

    def _fit_column(self) -> None:
        side = max(8, (self.viewport().width() - self.column_width()) // 2)
        self._layout.setContentsMargins(side, 8, side, 8)

    def resizeEvent(self, event) -> None:
        self._fit_column()
        self._resizing = True        # the scroll bar moves on its own while the layout reflows
        try:
            super().resizeEvent(event)
        finally:
            self._resizing = False
        self._range_changed(0, self.verticalScrollBar().maximum())
