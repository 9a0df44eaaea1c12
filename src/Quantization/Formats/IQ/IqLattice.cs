namespace Quantization.Formats;

/// <summary>
/// The quantizer's view of one 8-dimensional IQ lattice (ggml's <c>iq2xs_init_impl</c>, docs/formats.md#iq2-lattices):
/// every point's coordinates 2l + 1 (l = 0..2 its level), the map from a point's level code (two bits per
/// coordinate) to its grid index, and, for codes off the grid, the list of grid points at the nearest few squared
/// distances. Each lattice is built once, on first use, by its holder's static constructor.
/// </summary>
internal sealed class IqLattice
{
    /// <summary>Level codes go up to 0xAAAA (every level ≤ 2); ggml's map has 43692 entries.</summary>
    public const int MapSize = 43692;

    private readonly sbyte[] _coordinates;
    private readonly int[] _map;
    private readonly ushort[] _neighbours;

    /// <param name="grid">The dequantizer's points (<see cref="IqGrids"/>).</param>
    /// <param name="levelBytes">The three byte values of levels 0, 1 and 2 in <paramref name="grid"/>.</param>
    /// <param name="distances">How many of the nearest distinct squared distances a neighbour list spans.</param>
    private IqLattice(ReadOnlySpan<ulong> grid, ReadOnlySpan<byte> levelBytes, int distances)
    {
        int n = grid.Length;
        _coordinates = new sbyte[8 * n];
        _map = new int[MapSize];
        Array.Fill(_map, -1);
        for (int k = 0; k < n; ++k)
        {
            int code = 0;
            for (int i = 0; i < 8; ++i)
            {
                int level = levelBytes.IndexOf((byte)(grid[k] >> (8 * i)));
                _coordinates[8 * k + i] = (sbyte)(2 * level + 1);
                code |= level << (2 * i);
            }

            _map[code] = k;
        }

        _neighbours = BuildNeighbours(n, distances);
    }

    /// <summary>IQ2_XXS's 256 points; neighbour lists span the two nearest distances.</summary>
    public static IqLattice Iq2Xxs => Iq2XxsHolder.Lattice;

    /// <summary>IQ2_XS's 512 points; two distances.</summary>
    public static IqLattice Iq2Xs => Iq2XsHolder.Lattice;

    /// <summary>IQ2_S's 1024 points; the nearest distance only.</summary>
    public static IqLattice Iq2S => Iq2SHolder.Lattice;

    /// <summary>IQ1_S's and IQ1_M's 2048 points (values −1, 0, 1 as levels 0, 1, 2); three distances.</summary>
    public static IqLattice Iq1S => Iq1SHolder.Lattice;

    /// <summary>
    /// The grid index of the point with level code <paramref name="code"/> (two bits per coordinate, coordinate i at
    /// bit 2i), or a negative value: then <see cref="FindBestNeighbour"/> takes it.
    /// </summary>
    public int Index(int code) => _map[code];

    /// <summary>The neighbour list of an off-grid code's map entry (<see cref="Index"/> negative), nearest first.</summary>
    public ReadOnlySpan<ushort> Neighbours(int mapEntry)
    {
        int start = -mapEntry - 1;
        return _neighbours.AsSpan(start + 1, _neighbours[start]);
    }

    /// <summary>Level of coordinate <paramref name="i"/> of grid point <paramref name="k"/> (0..2).</summary>
    public int Level(int k, int i) => (_coordinates[8 * k + i] - 1) / 2;

    /// <summary>
    /// ggml's <c>iq2_find_best_neighbour</c> for an off-grid code (<see cref="Index"/> negative): the listed
    /// neighbour with the smallest Σ w·(scale·q − x)² (first one on ties), its levels written to <paramref name="L"/>.
    /// </summary>
    public int FindBestNeighbour(int mapEntry, ReadOnlySpan<float> xval, ReadOnlySpan<float> weight, float scale, Span<sbyte> L)
    {
        ReadOnlySpan<ushort> neighbours = Neighbours(mapEntry);
        float bestD2 = float.MaxValue;
        int gridIndex = -1;
        foreach (int k in neighbours)
        {
            float d2 = 0;
            for (int i = 0; i < 8; ++i)
            {
                float q = _coordinates[8 * k + i];
                float diff = scale * q - xval[i];
                d2 += weight[i] * diff * diff;
            }

            if (d2 < bestD2)
            {
                bestD2 = d2;
                gridIndex = k;
            }
        }

        if (gridIndex < 0)
        {
            // ggml asserts here; only NaN distances (non-finite input, rejected earlier) can get here.
            throw new InvalidOperationException("No lattice neighbour was nearer than float.MaxValue.");
        }

        for (int i = 0; i < 8; ++i)
        {
            L[i] = (sbyte)((_coordinates[8 * gridIndex + i] - 1) / 2);
        }

        return gridIndex;
    }

    /// <summary>
    /// For every code off the grid, the grid points whose squared distance is among the <paramref name="distances"/>
    /// smallest, ordered by (distance, index) as ggml's qsort leaves them; the list is [count, indices...] and the map
    /// entry −(offset + 1).
    /// </summary>
    private ushort[] BuildNeighbours(int n, int distances)
    {
        var lists = new List<ushort>(MapSize * 8);
        Span<int> d2 = new int[n];
        Span<int> pos = stackalloc int[8];
        Span<bool> seen = stackalloc bool[8 * 49 + 1];
        for (int code = 0; code < MapSize; ++code)
        {
            if (_map[code] >= 0)
            {
                continue;
            }

            for (int i = 0; i < 8; ++i)
            {
                pos[i] = 2 * ((code >> (2 * i)) & 3) + 1;
            }

            seen.Clear();
            for (int k = 0; k < n; ++k)
            {
                int s = 0;
                for (int i = 0; i < 8; ++i)
                {
                    int diff = _coordinates[8 * k + i] - pos[i];
                    s += diff * diff;
                }

                d2[k] = s;
                seen[s] = true;
            }

            _map[code] = -(lists.Count + 1);
            int countAt = lists.Count;
            lists.Add(0);
            int have = 0;
            for (int distance = 0; distance < seen.Length && have < distances; ++distance)
            {
                if (!seen[distance])
                {
                    continue;
                }

                ++have;
                for (int k = 0; k < n; ++k)
                {
                    if (d2[k] == distance)
                    {
                        lists.Add((ushort)k);
                    }
                }
            }

            lists[countAt] = (ushort)(lists.Count - countAt - 1);
        }

        return [.. lists];
    }

    private static class Iq2XxsHolder
    {
        public static readonly IqLattice Lattice;

        static Iq2XxsHolder() => Lattice = new IqLattice(IqGrids.Iq2Xxs, Iq2Levels, 2);
    }

    private static class Iq2XsHolder
    {
        public static readonly IqLattice Lattice;

        static Iq2XsHolder() => Lattice = new IqLattice(IqGrids.Iq2Xs, Iq2Levels, 2);
    }

    private static class Iq2SHolder
    {
        public static readonly IqLattice Lattice;

        static Iq2SHolder() => Lattice = new IqLattice(IqGrids.Iq2S, Iq2Levels, 1);
    }

    private static class Iq1SHolder
    {
        public static readonly IqLattice Lattice;

        static Iq1SHolder() => Lattice = new IqLattice(IqGrids.Iq1S, [0xFF, 0x00, 0x01], 3);
    }

    /// <summary>The magnitudes 8, 25, 43 of the 2-bit grids are levels 0, 1, 2.</summary>
    private static ReadOnlySpan<byte> Iq2Levels => [8, 25, 43];
}
