import math
def conv(cin, cout, k, groups=1, bias=False):
    return cout * (cin // groups) * k * k + (cout if bias else 0)
def bn(c): return 2 * c
def lin(i, o): return i * o + o

def resnet(block, layers, cin=3, ncls=1000, groups=1, wpg=64, se=False):
    p = conv(cin, 64, 7) + bn(64)
    inpl = 64
    exp = 1 if block == 'basic' else 4
    for i, (planes, n) in enumerate(zip([64, 128, 256, 512], layers)):
        stride = 1 if i == 0 else 2
        for b in range(n):
            s = stride if b == 0 else 1
            if block == 'basic':
                p += conv(inpl, planes, 3) + bn(planes) + conv(planes, planes, 3) + bn(planes)
            else:
                if se:  # Cadene SEResNeXtBottleneck
                    width = math.floor(planes * (wpg / 64)) * groups
                else:   # torchvision
                    width = int(planes * (wpg / 64.0)) * groups
                p += conv(inpl, width, 1) + bn(width) + conv(width, width, 3, groups) + bn(width)
                p += conv(width, planes * 4, 1) + bn(planes * 4)
                if se:
                    c = planes * 4; r = c // 16
                    p += conv(c, r, 1, bias=True) + conv(r, c, 1, bias=True)
            if s != 1 or inpl != planes * exp:
                p += conv(inpl, planes * exp, 1) + bn(planes * exp)
            inpl = planes * exp
    return p + lin(inpl, ncls)

def densenet(growth=32, cfg=(6, 12, 32, 32), init=64, bn_size=4, cin=3, ncls=1000):
    p = conv(cin, init, 7) + bn(init)
    nf = init
    for i, n in enumerate(cfg):
        for l in range(n):
            c = nf + l * growth
            p += bn(c) + conv(c, bn_size * growth, 1) + bn(bn_size * growth) + conv(bn_size * growth, growth, 3)
        nf += n * growth
        if i != len(cfg) - 1:
            p += bn(nf) + conv(nf, nf // 2, 1)
            nf //= 2
    p += bn(nf)
    return p + lin(nf, ncls)

def make_div(v, d=8, minv=None):
    minv = minv or d
    nv = max(minv, int(v + d / 2) // d * d)
    if nv < 0.9 * v: nv += d
    return nv

def effnet(wm, dm, cin=3, ncls=1000):
    # torchvision MBConvConfig list for B0 (expand, k, stride, in, out, layers)
    base = [(1,3,1,32,16,1),(6,3,2,16,24,2),(6,5,2,24,40,2),(6,3,2,40,80,3),(6,5,1,80,112,3),(6,5,2,112,192,4),(6,3,1,192,320,1)]
    ad = lambda c: make_div(c * wm, 8)
    stem = ad(32)
    p = conv(cin, stem, 3) + bn(stem)
    last_in = None
    for (e, k, s, ci, co, n) in base:
        ci, co = ad(ci), ad(co); n = int(math.ceil(n * dm))
        for j in range(n):
            cin_b = ci if j == 0 else co
            exp = make_div(cin_b * e, 8)
            if exp != cin_b:
                p += conv(cin_b, exp, 1) + bn(exp)
            p += conv(exp, exp, k, groups=exp) + bn(exp)
            sq = max(1, cin_b // 4)
            p += conv(exp, sq, 1, bias=True) + conv(sq, exp, 1, bias=True)
            p += conv(exp, co, 1) + bn(co)
        last_in = co
    last = 4 * last_in
    p += conv(last_in, last, 1) + bn(last)
    return p + lin(last, ncls)

def inception_resnet_v2(cin=3, ncls=1000):
    # timm inception_resnet_v2: BasicConv2d = conv (no bias) + BN; kh x kw kernels allowed.
    bc = lambda i, o, kh, kw=None: o * i * kh * (kw or kh) + bn(o)
    p = bc(cin, 32, 3) + bc(32, 32, 3) + bc(32, 64, 3) + bc(64, 80, 1) + bc(80, 192, 3)
    p += bc(192, 96, 1) + bc(192, 48, 1) + bc(48, 64, 5) + bc(192, 64, 1) + bc(64, 96, 3) + bc(96, 96, 3) + bc(192, 64, 1)
    block35 = bc(320, 32, 1) + bc(320, 32, 1) + bc(32, 32, 3) + bc(320, 32, 1) + bc(32, 48, 3) + bc(48, 64, 3) + conv(128, 320, 1, bias=True)
    p += 10 * block35
    p += bc(320, 384, 3) + bc(320, 256, 1) + bc(256, 256, 3) + bc(256, 384, 3)
    block17 = bc(1088, 192, 1) + bc(1088, 128, 1) + bc(128, 160, 1, 7) + bc(160, 192, 7, 1) + conv(384, 1088, 1, bias=True)
    p += 20 * block17
    p += bc(1088, 256, 1) + bc(256, 384, 3) + bc(1088, 256, 1) + bc(256, 288, 3) + bc(1088, 256, 1) + bc(256, 288, 3) + bc(288, 320, 3)
    block8 = bc(2080, 192, 1) + bc(2080, 192, 1) + bc(192, 224, 1, 3) + bc(224, 256, 3, 1) + conv(448, 2080, 1, bias=True)
    p += 10 * block8  # 9 scaled blocks and the final one without ReLU
    p += bc(2080, 1536, 1)
    return p + lin(1536, ncls)

ref = {
 'resnet18': (resnet('basic', [2,2,2,2]), 11689512),
 'resnet50': (resnet('bottleneck', [3,4,6,3]), 25557032),
 'resnext50_32x4d': (resnet('bottleneck', [3,4,6,3], groups=32, wpg=4), 25028904),
 'se_resnext50_32x4d': (resnet('bottleneck', [3,4,6,3], groups=32, wpg=4, se=True), 27559896),
 'densenet169': (densenet(), 14149480),
 'efficientnet_b1': (effnet(1.0, 1.1), 7794184),
 'inception_resnet_v2': (inception_resnet_v2(), 55843464),
}
for k, (got, want) in ref.items():
    print(f"{k:22s} 3in/1000: {got:>10,d} torchvision/Cadene {want:>10,d} {'OK' if got==want else 'MISMATCH'}")
print()
print('2in/5out:')
print('resnet18', resnet('basic',[2,2,2,2],cin=2,ncls=5))
print('resnet50', resnet('bottleneck',[3,4,6,3],cin=2,ncls=5))
print('resnext50', resnet('bottleneck',[3,4,6,3],cin=2,ncls=5,groups=32,wpg=4))
print('se_resnext50', resnet('bottleneck',[3,4,6,3],cin=2,ncls=5,groups=32,wpg=4,se=True))
print('densenet169', densenet(cin=2,ncls=5))
print('efficientnet_b1', effnet(1.0,1.1,cin=2,ncls=5))
print('inception_resnet_v2', inception_resnet_v2(cin=2,ncls=5))
