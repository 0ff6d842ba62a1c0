"""The turn's parts, each with one job; `assistant.pipeline` drives them as a mode machine.

- `contracts`: what the pipeline needs from engines, handlers and clocks.
- `listener`: wake word and VAD over microphone chunks, on one worker thread.
- `history`: the last seconds of audio heard, for pre-roll and the wake look-back.
- `endpoint`: when an utterance starts and ends (pure: audio time in, decisions out).
- `speculation`: what to do with a transcript guessed before the endpoint.
- `speaking`: the voice out (one at a time, what was last said) and "stop" while it talks.
- `language`: small judgements on transcripts (a question? a stop?).
"""
