"""A synthetic world with exact ground truth: procedural scenes, rendering, questions, timelines.

``make_stream(seed)`` gives a scene (shapes that appear, move, change colour, disappear), a
render style, questions of all four types with the replies they are owed, and
``WorldStream.to_timeline()`` for ``aura.stream.unroll``. ``render_video`` writes it as H.264.
See ``docs/world.md``.
"""

from aura.world.answers import agrees, extract
from aura.world.physics import Trajectories, simulate
from aura.world.questions import WorldQuestion, WorldResponse, WorldStream, make_stream, plan_questions
from aura.world.render import Renderer, RenderStyle, frame_size, render_video, sample_style
from aura.world.scene import ObjectState, Scene, WorldEvent, WorldObject, generate_scene
from aura.world.splits import split_of, split_seeds
from aura.world.vocab import COLOURS, RGB, SHAPES

__all__ = [
    "COLOURS",
    "RGB",
    "SHAPES",
    "ObjectState",
    "RenderStyle",
    "Renderer",
    "Scene",
    "Trajectories",
    "WorldEvent",
    "WorldObject",
    "WorldQuestion",
    "WorldResponse",
    "WorldStream",
    "agrees",
    "extract",
    "frame_size",
    "generate_scene",
    "make_stream",
    "plan_questions",
    "render_video",
    "sample_style",
    "simulate",
    "split_of",
    "split_seeds",
]
