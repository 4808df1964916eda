"""Where the batched backend's time goes, by stage, without cProfile's overhead (docs/benchmarks.md, seventeenth
session: the stage split):

    python scripts/sim_stages.py [PEOPLE] [PRESET]

Wraps the main stage functions with CPU-time counters, runs scripts/sim_profile.py's sample loop once to warm up
and once timed, and prints the total and each stage's CPU-ms a sample (stages nest: the rows do not add up).
"""
import sys, time, torch, collections
torch.set_num_threads(1)
import thzface.sim.sample as S, thzface.sim.scene as SC, thzface.sim.batch as B, thzface.sim.thz as T, thzface.sim.batch_face as BF
import thzface.sim.garments as G, thzface.sim.head as H, thzface.sim.sensor as SE, thzface.sim.batch_filters as BFL, thzface.sim.face_model as FM
acc = collections.Counter()
def wrap(mod, name, key=None):
    f = getattr(mod, name)
    def g(*a, **k):
        t = time.process_time(); r = f(*a, **k); acc[key or name] += time.process_time() - t; return r
    setattr(mod, name, g)
for mod, names in [(S, ["prepare_sample", "finish_sample", "_signals", "draw_system", "identity_maps", "_aux", "assemble_scene", "box_down", "measure", "redraw_fields"]),
                   (SC, ["setup_scene", "assemble_scene"]), (B, ["render_batch"] ), (T, ["active_scene"]),
                   (BF, ["build_builtin", "person"]), (G, ["sample_concealment", "drape_gap"]), (H, ["finish_head"]),
                   (BFL, ["psf_blur_fast", "speckle_fft"]), (FM, ["visit_identity", "skin_field"])]:
    for n in names:
        if hasattr(mod, n): wrap(mod, n, f"{mod.__name__.split('.')[-1]}.{n}")
wrap(S, "active_scene", "S.active_scene"); wrap(S, "speckle_normals", "S.speckle_normals"); wrap(S, "passive_scene")
wrap(T, "garment_pixels", "T.garment_pixels"); wrap(T, "garment_stack", "T.garment_stack"); wrap(T, "outer_value", "T.outer_value")
import thzface.sim.physics as P
for n in ["stack_coherent", "stack_incoherent", "layer_loss_db", "glint_lobe", "curvature_broadening", "fresnel_normal", "skin_index"]: wrap(P, n, "P."+n)
wrap(T, "front_of", "T.front_of"); wrap(T, "beam_w", "T.beam_w")
F = BFL.FFT_FILTERS
def tw(f, key):
    def g(*a, **k):
        t = time.process_time(); r = f(*a, **k); acc[key] += time.process_time() - t; return r
    return g
BFL.FFT_FILTERS = F._replace(blur=tw(F.blur, "F.blur"), speckle=tw(F.speckle, "F.speckle"), skin_optics=tw(F.skin_optics, "F.skin_optics"), curvature=tw(F.curvature, "F.curvature"))
sys.argv = ["x", "batched", sys.argv[1] if len(sys.argv) > 1 else "3"] + sys.argv[2:]
src = open(str(__import__("pathlib").Path(__file__).with_name("sim_profile.py"))).read().split("t = time.process_time()")[0]
exec(src)
run(); acc.clear()
t = time.process_time(); run(); tot = time.process_time() - t
print(f"total {1000*tot/n:.1f} ms/sample")
for k, v in sorted(acc.items(), key=lambda x: -x[1]): print(f"{1000*v/n:7.2f} {k}")
