# Generates optim_fixture.json: PyTorch's AdamW, SGD and clip_grad_norm_ on fixed inputs.
# Run: /usr/bin/python3 make_optim_fixture.py  (PyTorch 1.13 from Debian's python3-torch was used).
# Python is only used to make this fixture; nothing in Panamax depends on it.
import json
import numpy as np
import torch

rng = np.random.default_rng(20261122)
shapes = [(3, 4), (5,)]
init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
steps = 6
grads = [[(rng.standard_normal(s) * (0.1 + k)).astype(np.float32) for s in shapes] for k in range(steps)]

def run(make_opt):
    ps = [torch.nn.Parameter(torch.tensor(x.copy())) for x in init]
    opt = make_opt(ps)
    out = []
    for k in range(steps):
        for p, g in zip(ps, grads[k]):
            p.grad = torch.tensor(g.copy())
        opt.step()
        out.append([p.detach().numpy().astype(np.float32).ravel().tolist() for p in ps])
    return out

cases = {
    "adamw_defaults_lr1e-2": run(lambda ps: torch.optim.AdamW(ps, lr=1e-2)),
    "adamw_wd0.1_b0.8_0.99_eps1e-6": run(lambda ps: torch.optim.AdamW(ps, lr=3e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    "sgd_momentum0.9_nesterov_wd0.01": run(lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "sgd_momentum0.5_dampening0.2": run(lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.2)),
}
ps = [torch.nn.Parameter(torch.tensor(x.copy())) for x in init]
for p, g in zip(ps, grads[3]):
    p.grad = torch.tensor(g.copy())
norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=1.0)
clip = {"max_norm": 1.0, "grads": [g.ravel().tolist() for g in grads[3]], "total_norm": float(norm),
        "clipped": [p.grad.numpy().ravel().tolist() for p in ps]}
json.dump({"torch_version": torch.__version__, "shapes": shapes, "init": [x.ravel().tolist() for x in init],
           "grads": [[g.ravel().tolist() for g in gs] for gs in grads], "cases": cases, "clip": clip},
          open("optim_fixture.json", "w"), indent=1)
print("wrote optim_fixture.json with torch", torch.__version__)
